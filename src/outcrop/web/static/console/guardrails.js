// Bedrock Guardrails: list them, create a simple one (denied words, PII entities, a denied topic, content
// filters) through CreateGuardrail, and show a guardrail's assessments (Converse's trace.guardrail) in the
// playground, which lists the guardrails through `guardrailChoices`.
import { awsJson, uriEncode } from "./aws.js";
import { $, el, showError } from "./ui.js";

const PII = ["EMAIL", "PHONE", "NAME", "US_SOCIAL_SECURITY_NUMBER", "CREDIT_DEBIT_CARD_NUMBER", "IP_ADDRESS"];
const FILTERS = ["SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT", "PROMPT_ATTACK"];
const STRENGTHS = ["NONE", "LOW", "MEDIUM", "HIGH"];

function select(id, values, chosen) {
  const node = el("select", { id });
  node.replaceChildren(...values.map((value) => el("option", { value, text: value })));
  node.value = chosen;
  return node;
}

/** The guardrails the account holds (their drafts), for the list and the playground's choice. */
export async function guardrailChoices() {
  const found = [];
  let nextToken;
  do {
    const page = await awsJson("GET", "/guardrails", undefined, { query: nextToken ? { nextToken } : {} });
    found.push(...(page.guardrails || []));
    nextToken = page.nextToken;
  } while (nextToken);
  return found;
}

/** The CreateGuardrail request the form describes. */
function request() {
  const body = {
    name: $("#gr-name").value.trim(),
    blockedInputMessaging: $("#gr-blocked-in").value.trim(),
    blockedOutputsMessaging: $("#gr-blocked-out").value.trim(),
  };
  const words = $("#gr-words").value.split(",").map((w) => w.trim()).filter(Boolean);
  if (words.length || $("#gr-profanity").checked) {
    body.wordPolicyConfig = {};
    if (words.length) body.wordPolicyConfig.wordsConfig = words.map((text) => ({ text }));
    if ($("#gr-profanity").checked) body.wordPolicyConfig.managedWordListsConfig = [{ type: "PROFANITY" }];
  }
  const entities = PII.map((type) => ({ type, action: $(`#gr-pii-${type}`).value })).filter((e) => e.action !== "off");
  if (entities.length) body.sensitiveInformationPolicyConfig = { piiEntitiesConfig: entities };
  const topic = $("#gr-topic-name").value.trim();
  if (topic) {
    const examples = $("#gr-topic-examples").value.split("\n").map((line) => line.trim()).filter(Boolean);
    const definition = $("#gr-topic-definition").value.trim();
    body.topicPolicyConfig = { topicsConfig: [{ name: topic, definition, type: "DENY", ...(examples.length ? { examples } : {}) }] };
  }
  const filters = FILTERS.map((type) => ({
    type,
    inputStrength: $(`#gr-filter-${type}-in`).value,
    outputStrength: type === "PROMPT_ATTACK" ? "NONE" : $(`#gr-filter-${type}-out`).value,
  })).filter((f) => f.inputStrength !== "NONE" || f.outputStrength !== "NONE");
  if (filters.length) body.contentPolicyConfig = { filtersConfig: filters };
  return body;
}

function policySummary(guardrail) {
  const lines = [];
  const words = guardrail.wordPolicy;
  if (words) {
    const listed = (words.words || []).map((w) => w.text);
    if ((words.managedWordLists || []).length) listed.push("(profanity)");
    lines.push(`Denied words: ${listed.join(", ")}`);
  }
  const pii = guardrail.sensitiveInformationPolicy;
  if (pii) lines.push(`PII: ${(pii.piiEntities || []).map((e) => `${e.type} ${e.action}`).join(", ")}`);
  const topics = guardrail.topicPolicy;
  if (topics) lines.push(`Denied topics: ${(topics.topics || []).map((t) => t.name).join(", ")}`);
  const content = guardrail.contentPolicy;
  if (content) lines.push(`Content filters: ${(content.filters || []).map((f) => `${f.type} ${f.inputStrength}/${f.outputStrength}`).join(", ")}`);
  return lines.length ? lines : ["No policies."];
}

/** One assessment of Converse's trace.guardrail as lines: which policy fired, the action, confidence, spans. */
export function assessmentLines(assessment) {
  const lines = [];
  for (const topic of assessment.topicPolicy?.topics || []) lines.push(`Denied topic ${topic.name}: ${topic.action}`);
  for (const filter of assessment.contentPolicy?.filters || []) {
    lines.push(`Content filter ${filter.type}: ${filter.action} (confidence ${filter.confidence}${filter.filterStrength ? `, strength ${filter.filterStrength}` : ""})`);
  }
  for (const word of assessment.wordPolicy?.customWords || []) lines.push(`Denied word "${word.match}": ${word.action}`);
  for (const word of assessment.wordPolicy?.managedWordLists || []) lines.push(`Profanity "${word.match}": ${word.action}`);
  const sensitive = assessment.sensitiveInformationPolicy || {};
  for (const entity of sensitive.piiEntities || []) lines.push(`PII ${entity.type} "${entity.match}": ${entity.action}`);
  for (const regex of sensitive.regexes || []) lines.push(`Regex ${regex.name} "${regex.match}": ${regex.action}`);
  for (const filter of assessment.contextualGroundingPolicy?.filters || []) {
    lines.push(`${filter.type} score ${filter.score} (threshold ${filter.threshold}): ${filter.action}`);
  }
  return lines;
}

/** The guardrail part of a Converse answer, as a block under the reply. */
export function guardrailReport(trace, stopReason) {
  const box = el("div", { class: "assessments" });
  const found = trace?.guardrail;
  box.append(el("div", { class: "verdict", text: stopReason === "guardrail_intervened" ? "Guardrail intervened" : "Guardrail: no intervention" }));
  if (!found) return box;
  const list = el("ul");
  for (const [id, assessment] of Object.entries(found.inputAssessment || {})) {
    for (const line of assessmentLines(assessment)) list.append(el("li", { class: "input", text: `Input · ${line}` }));
    if (!assessmentLines(assessment).length) list.append(el("li", { text: `Input · ${id}: nothing found` }));
  }
  for (const [id, outputs] of Object.entries(found.outputAssessments || {})) {
    for (const assessment of outputs) {
      const lines = assessmentLines(assessment);
      for (const line of lines) list.append(el("li", { class: "output", text: `Output · ${line}` }));
      if (!lines.length) list.append(el("li", { text: `Output · ${id}: nothing found` }));
    }
  }
  box.append(list);
  if (found.modelOutput?.length) box.append(el("div", { class: "muted", text: `The model wrote: ${found.modelOutput.join("")}` }));
  return box;
}

export function initGuardrails() {
  let selected = null;
  $("#gr-pii tbody").replaceChildren(
    ...PII.map((type) => el("tr", {}, el("td", { text: type }), el("td", {}, select(`gr-pii-${type}`, ["off", "BLOCK", "ANONYMIZE"], "off")))),
  );
  $("#gr-filters tbody").replaceChildren(
    ...FILTERS.map((type) =>
      el(
        "tr",
        {},
        el("td", { text: type }),
        el("td", {}, select(`gr-filter-${type}-in`, STRENGTHS, "NONE")),
        el("td", {}, type === "PROMPT_ATTACK" ? el("span", { class: "muted", text: "input only" }) : select(`gr-filter-${type}-out`, STRENGTHS, "NONE")),
      ),
    ),
  );

  async function refresh() {
    const guardrails = await guardrailChoices();
    $("#gr-list").replaceChildren(
      ...guardrails.map((g) => {
        const button = el("button", { class: g.id === selected ? "active" : "", onclick: () => open(g.id).catch(showError) },
          el("span", { text: g.name }), el("span", { class: `badge ${g.status}`, text: g.status }));
        return el("li", {}, button);
      }),
    );
    if (!guardrails.length) $("#gr-list").append(el("li", { class: "muted", text: "No guardrails yet." }));
  }

  async function open(id) {
    selected = id;
    const guardrail = await awsJson("GET", `/guardrails/${uriEncode(id)}`);
    const detail = $("#gr-detail");
    detail.className = "card";
    detail.replaceChildren(
      el("h3", { text: `${guardrail.name} (${guardrail.guardrailId}, ${guardrail.version})` }),
      ...policySummary(guardrail).map((line) => el("div", { text: line })),
      el("div", { class: "muted", text: `Blocked input: ${guardrail.blockedInputMessaging}` }),
      el("div", { class: "muted", text: `Blocked output: ${guardrail.blockedOutputsMessaging}` }),
    );
    await refresh();
  }

  $("#gr-create").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("#gr-create-button").disabled = true;
    try {
      const made = await awsJson("POST", "/guardrails", request());
      $("#gr-name").value = "";
      await open(made.guardrailId);
    } catch (error) {
      showError(error);
    } finally {
      $("#gr-create-button").disabled = false;
    }
  });

  return {
    async shown() {
      try {
        await refresh();
      } catch (error) {
        showError(error);
      }
    },
  };
}
