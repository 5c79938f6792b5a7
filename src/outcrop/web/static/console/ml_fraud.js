// Fraud Detector: models and their versions (status, training AUC), detectors and their versions, and
// GetEventPrediction for an event written as JSON (model scores 0-1000 and the rules' outcomes).
import { $, el, showError } from "./ui.js";
import { badge, call, fillChoices, fillTable, listAll, statusKind } from "./ml_common.js";

const api = (operation, payload) => call("frauddetector", "AWSHawksNestServiceFacade", operation, payload);
// The service's page sizes: at most 10 models, versions, detectors or event types a page.
const list = (operation, key, payload = {}) => listAll((token) => api(operation, { ...payload, ...token, maxResults: 10 }), key);

/** A sample event for an event type: each of its variables with an empty value, to be filled in. */
function sampleEvent(eventType) {
  return JSON.stringify(Object.fromEntries((eventType?.eventVariables || []).map((name) => [name, ""])), null, 2);
}

export function initFraud() {
  const detectors = new Map(); // detectorId -> its GetDetectors entry
  let prefilled = "";

  async function refresh() {
    const statuses = [];
    const [models, versions, found] = await Promise.all([
      list("GetModels", "models"),
      list("DescribeModelVersions", "modelVersionDetails"),
      list("GetDetectors", "detectors"),
    ]);
    const modelRows = [];
    for (const model of models) {
      const mine = versions.filter((v) => v.modelId === model.modelId && v.modelType === model.modelType);
      if (!mine.length) modelRows.push({ cells: [model.modelId, model.modelType, model.eventTypeName, "no version yet", "", ""] });
      for (const version of mine) {
        statuses.push(version.status);
        const auc = version.trainingResult?.trainingMetrics?.auc;
        modelRows.push({
          cells: [model.modelId, model.modelType, model.eventTypeName, version.modelVersionNumber, badge(version.status), auc ?? ""],
          attrs: { "data-model": `${model.modelId}/${version.modelVersionNumber}` },
        });
      }
    }
    const detectorRows = [];
    detectors.clear();
    for (const detector of found) {
      detectors.set(detector.detectorId, detector);
      const described = await api("DescribeDetector", { detectorId: detector.detectorId });
      const summaries = described.detectorVersionSummaries || [];
      const cells = summaries.map((s) => el("span", { class: "ml-version" }, `v${s.detectorVersionId} `, badge(s.status)));
      detectorRows.push({
        cells: [detector.detectorId, detector.eventTypeName, cells.length ? el("span", {}, ...cells) : "no version yet"],
        attrs: { "data-detector": detector.detectorId },
      });
    }
    fillTable("#fd-models", modelRows, "No models yet.");
    fillTable("#fd-detectors", detectorRows, "No detectors yet.");
    const select = $("#fd-detector");
    const before = select.value;
    fillChoices(select, found.map((d) => ({ value: d.detectorId, label: `${d.detectorId} (${d.eventTypeName})` })));
    if (select.value !== before) await prefill();
    return statuses.some((status) => status && statusKind(status) === "running");
  }

  /** Fill the event box with the chosen detector's event variables (unless the user has edited it). */
  async function prefill() {
    const detector = detectors.get($("#fd-detector").value);
    const box = $("#fd-event");
    if (!detector || (box.value.trim() && box.value !== prefilled)) return;
    const { eventTypes } = await api("GetEventTypes", { name: detector.eventTypeName });
    prefilled = sampleEvent(eventTypes?.[0]);
    box.value = prefilled;
  }

  $("#fd-detector").addEventListener("change", () => prefill().catch(showError));

  $("#fd-predict-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("#fd-predict");
    button.disabled = true;
    try {
      const detector = detectors.get($("#fd-detector").value);
      if (!detector) throw new Error("Pick a detector first.");
      let variables;
      try {
        variables = JSON.parse($("#fd-event").value);
      } catch (error) {
        throw new Error(`The event is not JSON: ${error.message}`);
      }
      const { eventTypes } = await api("GetEventTypes", { name: detector.eventTypeName });
      const entityType = eventTypes?.[0]?.entityTypes?.[0] || "customer";
      const answer = await api("GetEventPrediction", {
        detectorId: detector.detectorId,
        eventId: `console-${Date.now()}`,
        eventTypeName: detector.eventTypeName,
        entities: [{ entityType, entityId: $("#fd-entity").value.trim() || "unknown" }],
        eventTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        eventVariables: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
      });
      const scores = (answer.modelScores || []).flatMap((m) =>
        Object.entries(m.scores || {}).map(([name, score]) => el("li", { class: "ml-score", text: `${m.modelVersion.modelId} ${m.modelVersion.modelVersionNumber} · ${name}: ${score}` })),
      );
      const rules = (answer.ruleResults || []).map((r) =>
        el("li", { class: "ml-rule", text: `${r.ruleId}: ${(r.outcomes || []).join(", ") || "no outcome"}` }),
      );
      $("#fd-result").replaceChildren(
        el("h3", { text: "Model scores" }), el("ul", {}, ...scores),
        el("h3", { text: "Matched rules" }), rules.length ? el("ul", {}, ...rules) : el("p", { class: "muted", text: "No rule matched." }),
      );
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });

  return { refresh };
}
