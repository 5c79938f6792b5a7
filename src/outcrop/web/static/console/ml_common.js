// Helpers the three ML service panes share: status badges, tables, JSON-protocol calls and paging.
import { awsTarget } from "./aws.js";
import { $, el } from "./ui.js";

const DONE = new Set(["ACTIVE", "TRAINING_COMPLETE", "INACTIVE", "COMPLETE", "CREATED", "DRAFT"]);
const FAILED = /FAIL|ERROR|STOPPED/;

/** A status's kind: "done", "failed" or "running" (each service spells its states its own way). */
export function statusKind(status) {
  if (!status) return "running";
  if (FAILED.test(status)) return "failed";
  return DONE.has(status) ? "done" : "running";
}

export function badge(status) {
  return el("span", { class: `badge ${statusKind(status)}`, text: status || "…" });
}

/** A table body from rows of cells (a cell is text, a number, a node or null). */
export function fillTable(selector, rows, empty) {
  const body = $(`${selector} tbody`);
  const columns = $(`${selector} thead tr`).children.length;
  if (!rows.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: String(columns), class: "muted", text: empty })));
    return;
  }
  body.replaceChildren(
    ...rows.map(({ cells, attrs = {} }) =>
      el("tr", attrs, ...cells.map((cell) => {
        if (cell instanceof Node) return el("td", {}, cell);
        if (typeof cell === "number") return el("td", { class: "num", text: fixed(cell) });
        return el("td", { text: cell == null ? "" : String(cell) });
      })),
    ),
  );
}

export function fixed(value, digits = 4) {
  if (value == null || Number.isNaN(value)) return "";
  return Number.isInteger(value) ? String(value) : Number(value).toFixed(digits);
}

/** A JSON-protocol call: `prefix` is the service's X-Amz-Target prefix, `operation` its name. */
export function call(service, prefix, operation, payload) {
  return awsTarget(service, `${prefix}.${operation}`, payload);
}

/** Every page of a list operation, its items under `key`. */
export async function listAll(fetchPage, key, tokenName = "nextToken") {
  const found = [];
  let token;
  do {
    const page = await fetchPage(token ? { [tokenName]: token } : {});
    found.push(...(page[key] || []));
    token = page[tokenName];
  } while (token);
  return found;
}

/** Options of a <select>, keeping the current choice when it is still there. */
export function fillChoices(select, items) {
  const before = select.value;
  select.replaceChildren(...items.map(({ value, label }) => el("option", { value, text: label })));
  if (items.some((item) => item.value === before)) select.value = before;
}
