// Model playground: a chat with any catalog model over /v1/chat/completions, streamed as server-sent events;
// with a guardrail picked, through Bedrock's Converse (guardrailConfig with the trace enabled), showing the
// guardrail's assessments under each answer.
import { awsJson, openaiHeaders, uriEncode } from "./aws.js";
import { guardrailChoices, guardrailReport } from "./guardrails.js";
import { $, el, fillSelect, modelLists, showError } from "./ui.js";

const PREFERRED = "anthropic.claude-3-haiku-20240307-v1:0";

function parameters() {
  const body = {
    model: $("#pg-model").value,
    temperature: Number($("#pg-temperature").value),
    top_p: Number($("#pg-top-p").value),
    max_tokens: Number($("#pg-max-tokens").value) || 512,
    stream: $("#pg-stream").checked,
  };
  const stop = $("#pg-stop").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (stop.length) body.stop = stop;
  if (body.stream) body.stream_options = { include_usage: true };
  if ($("#pg-format").value === "json_object") body.response_format = { type: "json_object" };
  return body;
}

/** Yields the JSON payloads of a `data:` event stream until `[DONE]`. */
async function* serverSentEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("");
      if (data === "[DONE]") return;
      if (data) yield JSON.parse(data);
    }
  }
}

function describe(usage, started, firstToken) {
  const total = performance.now() - started;
  const parts = [];
  if (usage) parts.push(`tokens in ${usage.prompt_tokens} · out ${usage.completion_tokens}`);
  if (firstToken) parts.push(`first token ${Math.round(firstToken - started)} ms`);
  parts.push(`total ${Math.round(total)} ms`);
  if (usage && usage.completion_tokens) parts.push(`${(usage.completion_tokens / (total / 1000)).toFixed(1)} tokens/s`);
  return parts.join(" · ");
}

/** One turn through Converse with the chosen guardrail's DRAFT; returns the reply and the finish line. */
async function converseGuarded(history, answer, guardrailId) {
  const model = $("#pg-model");
  if (model.selectedOptions[0]?.textContent.endsWith("(local)")) {
    throw new Error("Guardrails run through Bedrock's Converse: pick a catalog model (not a local name).");
  }
  const body = parameters();
  const request = {
    messages: history.map((m) => ({ role: m.role, content: [{ text: m.content }] })),
    inferenceConfig: { maxTokens: body.max_tokens, temperature: body.temperature, topP: body.top_p },
    guardrailConfig: { guardrailIdentifier: guardrailId, guardrailVersion: "DRAFT", trace: "enabled" },
  };
  if (body.stop) request.inferenceConfig.stopSequences = body.stop;
  const system = $("#pg-system").value.trim();
  if (system) request.system = [{ text: system }];
  const result = await awsJson("POST", `/model/${uriEncode(body.model)}/converse`, request);
  answer.textContent = result.output.message.content.map((block) => block.text || "").join("");
  answer.after(guardrailReport(result.trace, result.stopReason));
  const usage = { prompt_tokens: result.usage.inputTokens, completion_tokens: result.usage.outputTokens };
  return { usage, finish: result.stopReason };
}

async function fillGuardrails() {
  const chosen = $("#pg-guardrail").value;
  const guardrails = await guardrailChoices();
  const none = { id: "", label: "none" };
  fillSelect($("#pg-guardrail"), [none, ...guardrails.map((g) => ({ id: g.id, label: `${g.name} (DRAFT)` }))], chosen);
}

export function initPlayground() {
  const history = [];
  const transcript = $("#pg-transcript");
  let loaded = false;

  for (const id of ["temperature", "top-p"]) {
    $(`#pg-${id}`).addEventListener("input", () => ($(`#pg-${id}-value`).textContent = $(`#pg-${id}`).value));
  }
  $("#pg-clear").addEventListener("click", () => {
    history.length = 0;
    transcript.replaceChildren();
    $("#pg-stats").textContent = "No request yet.";
  });
  $("#pg-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("#pg-form").requestSubmit();
    }
  });

  async function send(text) {
    history.push({ role: "user", content: text });
    transcript.append(el("div", { class: "msg user", text }));
    const answer = el("div", { class: "msg assistant pending" });
    transcript.append(answer);
    transcript.scrollTop = transcript.scrollHeight;
    const body = parameters();
    const system = $("#pg-system").value.trim();
    body.messages = system ? [{ role: "system", content: system }, ...history] : [...history];
    const started = performance.now();
    let firstToken = null;
    let usage = null;
    let finish = null;
    const guardrailId = $("#pg-guardrail").value;
    if (guardrailId) {
      ({ usage, finish } = await converseGuarded(history, answer, guardrailId));
      answer.classList.remove("pending");
      history.push({ role: "assistant", content: answer.textContent });
      $("#pg-stats").textContent = `${describe(usage, started, null)} · stop: ${finish}`;
      return;
    }
    const response = await fetch("/v1/chat/completions", { method: "POST", headers: openaiHeaders(), body: JSON.stringify(body) });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Error(problem.error?.message || `HTTP ${response.status}`);
    }
    if (body.stream) {
      for await (const chunk of serverSentEvents(response)) {
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        if (choice.delta?.content) {
          firstToken ??= performance.now();
          answer.textContent += choice.delta.content;
          transcript.scrollTop = transcript.scrollHeight;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    } else {
      const result = await response.json();
      answer.textContent = result.choices[0].message.content;
      usage = result.usage;
      finish = result.choices[0].finish_reason;
    }
    answer.classList.remove("pending");
    history.push({ role: "assistant", content: answer.textContent });
    $("#pg-stats").textContent = `${describe(usage, started, firstToken)} · finish: ${finish}`;
  }

  $("#pg-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("#pg-input").value.trim();
    if (!text) return;
    $("#pg-input").value = "";
    $("#pg-send").disabled = true;
    try {
      await send(text);
    } catch (error) {
      transcript.querySelector(".pending")?.remove();
      history.pop();
      transcript.append(el("div", { class: "msg error", text: error.message }));
    } finally {
      $("#pg-send").disabled = false;
    }
  });

  return {
    async shown() {
      fillGuardrails().catch(showError); // guardrails made meanwhile appear
      if (loaded) return;
      try {
        const { chat } = await modelLists();
        fillSelect($("#pg-model"), chat, PREFERRED);
        loaded = true;
      } catch (error) {
        showError(error);
      }
    },
  };
}
