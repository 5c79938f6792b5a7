// The console's AWS client: SigV4-signed fetch calls to Outcrop's AWS APIs, with the Web Crypto API.
// Credentials come from the Settings tab (stored in this browser only). Under `auth = "dev"` any
// credentials pass; under `auth = "sigv4"` they must be a configured access key and its secret. Under
// `auth = "iam"` the console signs in instead: the key pair (and a session token, for STS credentials)
// is kept in this tab's sessionStorage only, gone when the browser session ends or on sign-out.

const encoder = new TextEncoder();
const SETTINGS_KEY = "outcrop-console-settings";
const SESSION_KEY = "outcrop-console-session";
const DEFAULTS = { accessKey: "AKIAOUTCROPCONSOLE", secretKey: "console-secret", region: "us-east-1", apiKey: "" };
let authMode = "dev";

/** The server's auth mode ("dev", "keys", "sigv4", "iam"), from /_outcrop/console/auth.json. */
export async function loadAuthMode() {
  try {
    const response = await fetch("/_outcrop/console/auth.json");
    authMode = (await response.json()).auth || "dev";
  } catch {
    authMode = "dev";
  }
  return authMode;
}

export function signedIn() {
  return authMode !== "iam" || Boolean(sessionCredentials().accessKey);
}

function sessionCredentials() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "{}");
  } catch {
    return {};
  }
}

export function loadSettings() {
  let stored;
  try {
    stored = { ...DEFAULTS, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") };
  } catch {
    stored = { ...DEFAULTS };
  }
  if (authMode !== "iam") return { ...stored, sessionToken: "" };
  const session = sessionCredentials();
  return { ...stored, accessKey: session.accessKey || "", secretKey: session.secretKey || "", sessionToken: session.sessionToken || "" };
}

/** Sign in under `auth = "iam"`: the key is checked with STS GetCallerIdentity, then kept for this session. */
export async function signIn(accessKey, secretKey, sessionToken) {
  const previous = sessionStorage.getItem(SESSION_KEY);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ accessKey, secretKey, sessionToken }));
  try {
    return await callerIdentity();
  } catch (error) {
    if (previous) sessionStorage.setItem(SESSION_KEY, previous);
    else sessionStorage.removeItem(SESSION_KEY);
    throw error;
  }
}

export function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** STS GetCallerIdentity: who the console's credentials are (needs no permission). */
export async function callerIdentity() {
  const body = "Action=GetCallerIdentity&Version=2011-06-15";
  const response = await awsFetch("sts", "POST", "/", { body, contentType: "application/x-www-form-urlencoded; charset=utf-8" });
  const text = await response.text();
  const field = (name) => (new RegExp(`<${name}>([^<]*)</${name}>`).exec(text) || [])[1] || "";
  return { arn: field("Arn"), account: field("Account"), userId: field("UserId") };
}

export function saveSettings(values) {
  localStorage.setItem(SETTINGS_KEY, JSON.stringify({ ...loadSettings(), ...values }));
}

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(data) {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(key, text) {
  const raw = typeof key === "string" ? encoder.encode(key) : key;
  const imported = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", imported, encoder.encode(text));
}

// RFC 3986 encoding, as SigV4 wants it.
export function uriEncode(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function canonicalQuery(query) {
  return Object.keys(query)
    .sort()
    .map((key) => `${uriEncode(key)}=${uriEncode(String(query[key]))}`)
    .join("&");
}

/** Headers that sign a request: Authorization, X-Amz-Date, X-Amz-Content-Sha256. */
async function signature(service, method, path, query, body) {
  const { accessKey, secretKey, region, sessionToken } = loadSettings();
  const now = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  const day = now.slice(0, 8);
  const scope = `${day}/${region}/${service}/aws4_request`;
  if (!crypto.subtle) {
    // Not a secure context (served on a non-local host over http): only dev mode will accept this.
    return {
      authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=host;x-amz-date, Signature=${"0".repeat(64)}`,
      "x-amz-date": now,
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
    };
  }
  const payloadHash = await sha256(body || "");
  // S3 signs the path as sent; the other services encode each segment once more.
  const canonicalPath = service === "s3" ? path : path.split("/").map(uriEncode).join("/");
  const token = sessionToken ? `x-amz-security-token:${sessionToken}\n` : "";
  const signedHeaders = "host;x-amz-content-sha256;x-amz-date" + (sessionToken ? ";x-amz-security-token" : "");
  const canonical = [
    method,
    canonicalPath,
    canonicalQuery(query),
    `host:${location.host}\nx-amz-content-sha256:${payloadHash}\nx-amz-date:${now}\n${token}`,
    signedHeaders,
    payloadHash,
  ].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", now, scope, await sha256(canonical)].join("\n");
  let key = await hmac("AWS4" + secretKey, day);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  const signed = hex(await hmac(key, toSign));
  const headers = {
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signed}`,
    "x-amz-date": now,
    "x-amz-content-sha256": payloadHash,
  };
  if (sessionToken) headers["x-amz-security-token"] = sessionToken;
  return headers;
}

export class AwsError extends Error {
  constructor(code, message, status) {
    super(`${code}: ${message}`);
    this.code = code;
    this.status = status;
  }
}

async function errorOf(response) {
  const text = await response.text();
  const headerType = (response.headers.get("x-amzn-errortype") || "").split(":")[0];
  try {
    const body = JSON.parse(text);
    const code = headerType || (body.__type || "").split("#").pop() || "Error";
    return new AwsError(code, body.message || body.Message || text, response.status);
  } catch {
    const code = /<Code>([^<]*)<\/Code>/.exec(text);
    const message = /<Message>([^<]*)<\/Message>/.exec(text);
    return new AwsError(code ? code[1] : headerType || `HTTP ${response.status}`, message ? message[1] : text, response.status);
  }
}

/** A signed call; `path` segments must already be URI-encoded. Returns the Response (throws AwsError). */
export async function awsFetch(service, method, path, { query = {}, body = null, contentType, headers: extra = {} } = {}) {
  const headers = { ...extra, ...(await signature(service, method, path, query, body)) };
  if (contentType) headers["content-type"] = contentType;
  const search = Object.keys(query).length ? "?" + canonicalQuery(query) : "";
  const response = await fetch(path + search, { method, headers, body });
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** A REST-JSON call (Bedrock's control and runtime planes): JSON in, JSON out. */
export async function awsJson(method, path, payload, { query } = {}) {
  const body = payload === undefined ? null : JSON.stringify(payload);
  const response = await awsFetch("bedrock", method, path, { query, body, contentType: "application/json" });
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

/** A call of a JSON-protocol service (CloudTrail, ...): `target` is its X-Amz-Target, e.g. "...LookupEvents". */
export async function awsTarget(service, target, payload) {
  const response = await awsFetch(service, "POST", "/", {
    body: JSON.stringify(payload || {}),
    contentType: "application/x-amz-json-1.1",
    headers: { "x-amz-target": target },
  });
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

export const s3 = {
  async createBucket(bucket) {
    try {
      await awsFetch("s3", "PUT", `/${uriEncode(bucket)}`);
    } catch (error) {
      if (error.code !== "BucketAlreadyOwnedByYou") throw error;
    }
  },
  async putObject(bucket, key, bytes, contentType) {
    const path = `/${uriEncode(bucket)}/${key.split("/").map(uriEncode).join("/")}`;
    await awsFetch("s3", "PUT", path, { body: bytes, contentType: contentType || "application/octet-stream" });
  },
};

/** Headers for the OpenAI-compatible API (a bearer key only matters outside dev mode). */
export function openaiHeaders() {
  const { apiKey } = loadSettings();
  const headers = { "content-type": "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return headers;
}
