// Knowledge bases through the Bedrock Agent APIs and S3, exactly as boto3 would call them.
import { awsJson, loadSettings, s3 } from "./aws.js";
import { $, el, fillSelect, modelLists, showError } from "./ui.js";

const ROLE_ARN = "arn:aws:iam::000000000000:role/OutcropConsoleKnowledgeBase";
const SOURCE_URI = "x-amz-bedrock-kb-source-uri";
const RUNNING = new Set(["STARTING", "IN_PROGRESS", "STOPPING"]);

function modelArn(id) {
  return `arn:aws:bedrock:${loadSettings().region}::foundation-model/${id}`;
}

function bucketName(name) {
  const slug = name.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/-+/g, "-").slice(0, 40);
  return `kb-${slug}-${Math.random().toString(36).slice(2, 8)}`.replace(/-+/g, "-");
}

export function retrievalConfiguration(k, searchType, filter) {
  const vector = { numberOfResults: k };
  if (searchType) vector.overrideSearchType = searchType;
  if (filter) vector.filter = filter;
  return { vectorSearchConfiguration: vector };
}

export function renderHit(hit, index) {
  const uri = hit.location?.s3Location?.uri || hit.location?.webLocation?.url || hit.location?.type || "";
  const score = typeof hit.score === "number" ? hit.score : null;
  const bar = el("div", { class: "score", title: "score" }, el("div"));
  if (score !== null) bar.firstChild.style.width = `${Math.round(Math.max(0, Math.min(1, score)) * 100)}%`;
  const metadata = Object.entries(hit.metadata || {})
    .filter(([key]) => !key.startsWith("x-amz-bedrock-kb-"))
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join("  ");
  return el(
    "div",
    { class: "hit" },
    el("div", { class: "hit-head" }, el("b", { text: `#${index + 1}` }), bar, el("span", { class: "hit-score", text: score === null ? "" : score.toFixed(3) }), el("span", { text: uri })),
    el("pre", { text: hit.content?.text || "" }),
    metadata ? el("div", { class: "meta", text: metadata }) : null,
  );
}

export function initKnowledgeBases() {
  let current = null; // { kb, dataSource, bucket }
  let polling = null;

  async function listKnowledgeBases() {
    const { knowledgeBaseSummaries } = await awsJson("POST", "/knowledgebases/", { maxResults: 100 });
    $("#kb-list").replaceChildren(
      ...knowledgeBaseSummaries.map((kb) =>
        el(
          "li",
          {},
          el(
            "button",
            { class: current?.kb.knowledgeBaseId === kb.knowledgeBaseId ? "active" : "", "data-kb": kb.knowledgeBaseId, onclick: () => select(kb.knowledgeBaseId).catch(showError) },
            el("span", { text: kb.name }),
            el("span", { class: `badge ${kb.status}`, text: kb.status }),
          ),
        ),
      ),
    );
    if (!knowledgeBaseSummaries.length) $("#kb-list").append(el("li", { class: "muted", text: "None yet." }));
    return knowledgeBaseSummaries;
  }

  // The selection being loaded: a delete waits for it, so no call of it runs after the knowledge base is gone.
  let loading = Promise.resolve();

  function select(kbId) {
    loading = load(kbId);
    return loading;
  }

  async function load(kbId) {
    const { knowledgeBase } = await awsJson("GET", `/knowledgebases/${kbId}`);
    const { dataSourceSummaries } = await awsJson("POST", `/knowledgebases/${kbId}/datasources/`, { maxResults: 100 });
    let dataSource = null;
    let bucket = null;
    if (dataSourceSummaries.length) {
      dataSource = (await awsJson("GET", `/knowledgebases/${kbId}/datasources/${dataSourceSummaries[0].dataSourceId}`)).dataSource;
      bucket = dataSource.dataSourceConfiguration?.s3Configuration?.bucketArn?.split(":::")[1] || null;
    }
    current = { kb: knowledgeBase, dataSource, bucket };
    $("#kb-empty").hidden = true;
    $("#kb-body").hidden = false;
    $("#kb-title").textContent = knowledgeBase.name;
    const embedding = knowledgeBase.knowledgeBaseConfiguration.vectorKnowledgeBaseConfiguration.embeddingModelArn.split("/").pop();
    $("#kb-meta").textContent = `${knowledgeBase.knowledgeBaseId} · ${embedding} · ${knowledgeBase.status}`;
    $("#kb-bucket").textContent = bucket ? `s3://${bucket}/docs/` : "(no S3 data source)";
    $("#kb-results").replaceChildren();
    $("#kb-chunks").replaceChildren();
    $("#kb-job").hidden = true;
    for (const button of document.querySelectorAll("#kb-list button")) button.classList.toggle("active", button.dataset.kb === kbId);
    await listDocuments();
    if (dataSource) {
      const { ingestionJobSummaries } = await awsJson("POST", `/knowledgebases/${kbId}/datasources/${dataSource.dataSourceId}/ingestionjobs/`, {
        maxResults: 1,
        sortBy: { attribute: "STARTED_AT", order: "DESCENDING" },
      });
      if (ingestionJobSummaries.length) await watchJob(ingestionJobSummaries[0].ingestionJobId);
    }
  }

  async function listDocuments() {
    const tbody = $("#kb-docs tbody");
    if (!current?.dataSource) return tbody.replaceChildren();
    const { kb, dataSource } = current;
    const { documentDetails } = await awsJson("POST", `/knowledgebases/${kb.knowledgeBaseId}/datasources/${dataSource.dataSourceId}/documents`, { maxResults: 1000 });
    tbody.replaceChildren(
      ...documentDetails.map((document) => {
        const uri = document.identifier?.s3?.uri || document.identifier?.custom?.id || "";
        return el(
          "tr",
          {},
          el("td", { text: uri.split("/").slice(3).join("/") || uri }),
          el("td", { title: document.statusReason || "" }, el("span", { class: `badge ${document.status}`, text: document.status })),
          el("td", {}, el("button", { class: "chunks", onclick: () => showChunks(uri) }, "Chunks")),
        );
      }),
    );
  }

  async function showChunks(uri) {
    // No AWS API lists chunks; Retrieve filtered on the document's source URI returns them, with scores.
    const name = uri.split("/").pop();
    const { retrievalResults } = await awsJson("POST", `/knowledgebases/${current.kb.knowledgeBaseId}/retrieve`, {
      retrievalQuery: { text: name.replace(/\.[a-z0-9]+$/i, "").replace(/[-_]/g, " ") },
      retrievalConfiguration: retrievalConfiguration(100, "", { equals: { key: SOURCE_URI, value: uri } }),
    });
    $("#kb-chunks").replaceChildren(
      el("h3", { text: `Chunks of ${name}: ${retrievalResults.length}` }),
      ...retrievalResults.map(renderHit),
    );
  }

  function watchJob(jobId) {
    clearTimeout(polling);
    const { kb, dataSource } = current;
    const kbId = kb.knowledgeBaseId;
    $("#kb-job").hidden = false;
    const tick = async () => {
      if (current?.kb.knowledgeBaseId !== kbId) return;
      try {
        const { ingestionJob } = await awsJson("GET", `/knowledgebases/${kbId}/datasources/${dataSource.dataSourceId}/ingestionjobs/${jobId}`);
        if (current?.kb.knowledgeBaseId !== kbId) return;
        const stats = ingestionJob.statistics || {};
        const done = (stats.numberOfNewDocumentsIndexed || 0) + (stats.numberOfModifiedDocumentsIndexed || 0) + (stats.numberOfDocumentsFailed || 0) + (stats.numberOfDocumentsDeleted || 0);
        const scanned = stats.numberOfDocumentsScanned || 0;
        const running = RUNNING.has(ingestionJob.status);
        const share = running ? (scanned ? Math.min(0.95, done / scanned) : 0.05) : 1;
        $("#kb-job-status").textContent = ingestionJob.status;
        $("#kb-job-status").className = `badge ${ingestionJob.status}`;
        $("#kb-job-counts").textContent =
          `scanned ${scanned} · indexed ${(stats.numberOfNewDocumentsIndexed || 0) + (stats.numberOfModifiedDocumentsIndexed || 0)} · ` +
          `unchanged ${stats.numberOfDocumentsUnchanged ?? 0} · deleted ${stats.numberOfDocumentsDeleted || 0} · failed ${stats.numberOfDocumentsFailed || 0}` +
          (ingestionJob.failureReasons?.length ? ` · ${ingestionJob.failureReasons.join("; ")}` : "");
        $("#kb-job-bar").style.width = `${Math.round(share * 100)}%`;
        if (running) polling = setTimeout(tick, 400);
        else await listDocuments();
      } catch (error) {
        showError(error);
      }
    };
    return tick();
  }

  async function startIngestion() {
    const { kb, dataSource } = current;
    if (!dataSource) throw new Error("This knowledge base has no data source to sync.");
    const { ingestionJob } = await awsJson("PUT", `/knowledgebases/${kb.knowledgeBaseId}/datasources/${dataSource.dataSourceId}/ingestionjobs/`, {
      clientToken: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()).padEnd(33, "0"),
    });
    watchJob(ingestionJob.ingestionJobId);
  }

  async function upload() {
    if (!current.bucket) throw new Error("This knowledge base has no S3 data source to upload into.");
    const files = [...$("#kb-files").files];
    if (!files.length) throw new Error("Choose one or more files first.");
    for (const file of files) {
      await s3.putObject(current.bucket, `docs/${file.name}`, new Uint8Array(await file.arrayBuffer()), file.type);
    }
    $("#kb-files").value = "";
    await startIngestion();
  }

  async function create(event) {
    event.preventDefault();
    const name = $("#kb-name").value.trim();
    const embedding = $("#kb-embedding").value;
    const bucket = bucketName(name);
    await s3.createBucket(bucket);
    const { knowledgeBase } = await awsJson("PUT", "/knowledgebases/", {
      name,
      roleArn: ROLE_ARN,
      description: "Created in the Outcrop console",
      knowledgeBaseConfiguration: { type: "VECTOR", vectorKnowledgeBaseConfiguration: { embeddingModelArn: modelArn(embedding) } },
      storageConfiguration: {
        type: "OPENSEARCH_SERVERLESS",
        opensearchServerlessConfiguration: {
          collectionArn: "arn:aws:aoss:us-east-1:000000000000:collection/outcrop",
          vectorIndexName: "bedrock-knowledge-base-default-index",
          fieldMapping: { vectorField: "vector", textField: "AMAZON_BEDROCK_TEXT_CHUNK", metadataField: "AMAZON_BEDROCK_METADATA" },
        },
      },
    });
    await awsJson("PUT", `/knowledgebases/${knowledgeBase.knowledgeBaseId}/datasources/`, {
      name: `${name}-s3`.slice(0, 100),
      dataSourceConfiguration: { type: "S3", s3Configuration: { bucketArn: `arn:aws:s3:::${bucket}`, inclusionPrefixes: ["docs/"] } },
      vectorIngestionConfiguration: {
        chunkingConfiguration: {
          chunkingStrategy: "FIXED_SIZE",
          fixedSizeChunkingConfiguration: { maxTokens: Number($("#kb-chunk-tokens").value) || 300, overlapPercentage: 20 },
        },
      },
    });
    $("#kb-name").value = "";
    current = { kb: knowledgeBase };
    await listKnowledgeBases();
    await select(knowledgeBase.knowledgeBaseId);
  }

  async function retrieve() {
    const text = $("#kb-query").value.trim();
    if (!text) throw new Error("Type a query first.");
    const rawFilter = $("#kb-filter").value.trim();
    let filter = null;
    if (rawFilter) {
      try {
        filter = JSON.parse(rawFilter);
      } catch {
        throw new Error("The metadata filter is not valid JSON.");
      }
    }
    const started = performance.now();
    const { retrievalResults } = await awsJson("POST", `/knowledgebases/${current.kb.knowledgeBaseId}/retrieve`, {
      retrievalQuery: { text },
      retrievalConfiguration: retrievalConfiguration(Number($("#kb-k").value) || 5, $("#kb-search-type").value, filter),
    });
    $("#kb-results").replaceChildren(
      el("p", { class: "muted", text: `${retrievalResults.length} results in ${Math.round(performance.now() - started)} ms` }),
      ...retrievalResults.map(renderHit),
    );
  }

  function guarded(action, button) {
    return async (event) => {
      if (button) button.disabled = true;
      try {
        await action(event);
      } catch (error) {
        showError(error);
      } finally {
        if (button) button.disabled = false;
      }
    };
  }

  async function remove() {
    await loading.catch(() => {});
    const { kb, bucket } = current;
    const kept = bucket ? ` The files stay in s3://${bucket}.` : "";
    if (!confirm(`Delete the knowledge base ${kb.name} and its index?${kept}`)) return;
    await awsJson("DELETE", `/knowledgebases/${kb.knowledgeBaseId}`);
    clearTimeout(polling);
    current = null;
    $("#kb-body").hidden = true;
    $("#kb-empty").hidden = false;
    await listKnowledgeBases();
  }

  $("#kb-create").addEventListener("submit", guarded(create, $("#kb-create-button")));
  $("#kb-delete").addEventListener("click", guarded(remove, $("#kb-delete")));
  $("#kb-upload").addEventListener("click", guarded(upload, $("#kb-upload")));
  $("#kb-sync").addEventListener("click", guarded(startIngestion, $("#kb-sync")));
  $("#kb-retrieve").addEventListener("click", guarded(retrieve, $("#kb-retrieve")));
  $("#kb-query").addEventListener("keydown", (event) => event.key === "Enter" && $("#kb-retrieve").click());

  let loaded = false;
  return {
    async shown() {
      try {
        if (!loaded) {
          const { embedding } = await modelLists();
          fillSelect($("#kb-embedding"), embedding.filter((model) => !model.local), "amazon.titan-embed-text-v2:0");
          loaded = true;
        }
        await listKnowledgeBases();
      } catch (error) {
        showError(error);
      }
    },
    hidden() {
      clearTimeout(polling);
    },
  };
}
