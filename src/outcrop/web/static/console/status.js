// Status: loaded models, memory, usage per model, SageMaker endpoint metrics and the recent requests,
// polled from /_outcrop/health.
import { $, el, health, showError } from "./ui.js";

function megabytes(bytes) {
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

function duration(seconds) {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function rows(table, items) {
  table.querySelector("tbody").replaceChildren(...items);
}

function cell(text, numeric = false) {
  return el("td", { class: numeric ? "num" : "", text: String(text) });
}

function render(state) {
  const usage = Object.values(state.usage || {});
  const tokens = usage.reduce((sum, entry) => sum + entry.inputTokens + entry.outputTokens, 0);
  const loaded = Object.values(state.models).filter((model) => model.state === "ready").length;
  $("#st-tiles").replaceChildren(
    el("div", { class: "tile", id: "st-memory" }, "Memory (RSS)", el("b", { text: megabytes(state.memory_rss_bytes) })),
    el("div", { class: "tile" }, "Uptime", el("b", { text: duration(state.uptime_seconds) })),
    el("div", { class: "tile" }, "Models loaded", el("b", { text: `${loaded} / ${Object.keys(state.models).length}` })),
    el("div", { class: "tile" }, "Tokens in + out", el("b", { text: tokens.toLocaleString() })),
  );
  rows(
    $("#st-models"),
    Object.entries(state.models).map(([name, model]) =>
      el(
        "tr",
        { title: model.error || "" },
        cell(name),
        cell(model.kind),
        cell(model.runtime),
        el("td", {}, el("span", { class: `badge ${model.state}`, text: model.state.replace("_", " ") })),
        cell(model.load_seconds ?? "–", true),
        cell(model.uses ?? 0, true),
        cell(model.generated_tokens ?? "–", true),
      ),
    ),
  );
  rows(
    $("#st-usage"),
    Object.entries(state.usage || {}).map(([name, entry]) =>
      el("tr", {}, cell(name), cell(entry.calls, true), cell(entry.inputTokens, true), cell(entry.outputTokens, true)),
    ),
  );
  rows(
    $("#st-endpoints"),
    Object.entries(state.sagemaker_endpoints || {}).flatMap(([endpoint, variants]) =>
      Object.entries(variants).map(([variant, m]) =>
        el(
          "tr",
          {},
          cell(endpoint),
          cell(variant),
          cell(m.Invocations ?? 0, true),
          cell(m.Invocation4XXErrors ?? 0, true),
          cell(m.Invocation5XXErrors ?? 0, true),
          cell((m.ModelLatencyAverageMs ?? 0).toFixed(1), true),
        ),
      ),
    ),
  );
  rows(
    $("#st-recent"),
    [...state.recent_requests].reverse().map((record) =>
      el(
        "tr",
        {},
        cell(new Date(record.at * 1000).toLocaleTimeString()),
        cell(record.service),
        cell(record.operation),
        cell(record.status, true),
        cell(record.millis.toFixed(1), true),
      ),
    ),
  );
}

export function initStatus() {
  let timer = null;
  async function refresh() {
    try {
      render(await health());
    } catch (error) {
      showError(error);
    }
  }
  return {
    shown() {
      refresh();
      clearInterval(timer);
      timer = setInterval(refresh, 2000);
    },
    hidden() {
      clearInterval(timer);
      timer = null;
    },
  };
}
