// Bedrock Agents: create an agent, give it a function action group on a Lambda function, chat with it
// (InvokeAgent with enableTrace) and see each step: rationale, tool call with arguments, observation, answer.
import { awsFetch, awsJson, uriEncode } from "./aws.js";
import { $, el, fillSelect, modelLists, showError } from "./ui.js";

const ROLE_ARN = "arn:aws:iam::000000000000:role/OutcropConsoleAgent";
const decoder = new TextDecoder();

/** The messages of an `application/vnd.amazon.eventstream` body: [{headers, payload}]. */
export function decodeEventStream(buffer) {
  const view = new DataView(buffer);
  const messages = [];
  let offset = 0;
  while (offset + 12 <= buffer.byteLength) {
    const total = view.getUint32(offset);
    const headersLength = view.getUint32(offset + 4);
    const headers = {};
    let at = offset + 12;
    const headersEnd = at + headersLength;
    while (at < headersEnd) {
      const nameLength = view.getUint8(at);
      const name = decoder.decode(new Uint8Array(buffer, at + 1, nameLength));
      at += 1 + nameLength;
      const type = view.getUint8(at);
      at += 1;
      if (type === 7) {
        const length = view.getUint16(at);
        headers[name] = decoder.decode(new Uint8Array(buffer, at + 2, length));
        at += 2 + length;
      } else {
        break; // Outcrop sends string headers only
      }
    }
    const payload = decoder.decode(new Uint8Array(buffer, headersEnd, offset + total - 4 - headersEnd));
    messages.push({ headers, payload });
    offset += total;
  }
  return messages;
}

function base64Text(value) {
  return decoder.decode(Uint8Array.from(atob(value || ""), (c) => c.charCodeAt(0)));
}

/** One trace event as a line of the step list, or null for the parts not shown. */
function traceStep(trace) {
  const step = trace.orchestrationTrace;
  if (trace.failureTrace) return el("li", { class: "step failure", text: `Failure: ${trace.failureTrace.failureReason}` });
  if (!step) return null;
  if (step.rationale) return el("li", { class: "step", text: `Rationale: ${step.rationale.text}` });
  if (step.invocationInput) {
    const input = step.invocationInput;
    const call = input.actionGroupInvocationInput;
    if (call) {
      const args = (call.parameters || []).map((p) => `${p.name}=${p.value}`).join(", ");
      return el("li", { class: "step call", text: `Call ${call.actionGroupName}.${call.function || `${call.verb} ${call.apiPath}`}(${args}) via ${call.executionType}` });
    }
    if (input.knowledgeBaseLookupInput) return el("li", { class: "step call", text: `Search knowledge base: ${input.knowledgeBaseLookupInput.text}` });
  }
  if (step.observation) {
    const o = step.observation;
    const text = o.actionGroupInvocationOutput?.text || o.finalResponse?.text || o.repromptResponse?.text || `${(o.knowledgeBaseLookupOutput?.retrievedReferences || []).length} passages`;
    return el("li", { class: "step observation", text: `Observation ${o.type}: ${text}` });
  }
  if (step.modelInvocationOutput) {
    const usage = step.modelInvocationOutput.metadata?.usage || {};
    return el("li", { class: "step model muted", text: `Model: ${usage.inputTokens} tokens in, ${usage.outputTokens} out, ${step.modelInvocationOutput.metadata?.totalTimeMs} ms` });
  }
  return null;
}

export function initAgents() {
  let current = null;
  let sessionId = crypto.randomUUID?.() || String(Date.now());

  async function listAgents() {
    const { agentSummaries } = await awsJson("POST", "/agents/", { maxResults: 100 });
    $("#ag-list").replaceChildren(
      ...agentSummaries.map((agent) =>
        el("li", {}, el("button", { class: current === agent.agentId ? "active" : "", "data-agent": agent.agentId, onclick: () => select(agent.agentId).catch(showError) },
          el("span", { text: agent.agentName }), el("span", { class: `badge ${agent.agentStatus}`, text: agent.agentStatus }))),
      ),
    );
  }

  async function listFunctions() {
    const response = await awsFetch("lambda", "GET", "/2015-03-31/functions");
    const { Functions } = await response.json();
    fillSelect($("#ag-lambda"), Functions.map((f) => ({ id: f.FunctionArn, label: f.FunctionName })));
  }

  async function select(agentId) {
    current = agentId;
    sessionId = crypto.randomUUID?.() || String(Date.now());
    const { agent } = await awsJson("GET", `/agents/${uriEncode(agentId)}/`);
    $("#ag-empty").hidden = true;
    $("#ag-body").hidden = false;
    $("#ag-title").textContent = agent.agentName;
    $("#ag-meta").textContent = `${agent.agentStatus} · ${agent.foundationModel} · ${agent.agentId}`;
    const { actionGroupSummaries } = await awsJson("POST", `/agents/${uriEncode(agentId)}/agentversions/DRAFT/actiongroups/`, { maxResults: 100 });
    $("#ag-groups").replaceChildren(...actionGroupSummaries.map((g) => el("li", { text: `${g.actionGroupName} (${g.actionGroupState})` })));
    $("#ag-transcript").replaceChildren();
    await listAgents();
  }

  async function waitFor(agentId, status) {
    for (let i = 0; i < 40; i++) {
      const { agent } = await awsJson("GET", `/agents/${uriEncode(agentId)}/`);
      if (agent.agentStatus === status) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function create(event) {
    event.preventDefault();
    const { agent } = await awsJson("PUT", "/agents/", {
      agentName: $("#ag-name").value.trim(),
      foundationModel: $("#ag-model").value,
      instruction: $("#ag-instruction").value.trim(),
      agentResourceRoleArn: ROLE_ARN,
    });
    await waitFor(agent.agentId, "NOT_PREPARED");
    await select(agent.agentId);
  }

  async function addGroup(event) {
    event.preventDefault();
    const parameters = {};
    for (const part of $("#ag-params").value.split(",").map((p) => p.trim()).filter(Boolean)) {
      const [name, type = "string"] = part.split(":").map((s) => s.trim());
      parameters[name] = { type, description: name, required: true };
    }
    await awsJson("PUT", `/agents/${uriEncode(current)}/agentversions/DRAFT/actiongroups/`, {
      actionGroupName: $("#ag-group-name").value.trim(),
      actionGroupExecutor: { lambda: $("#ag-lambda").value },
      functionSchema: { functions: [{ name: $("#ag-function").value.trim(), description: $("#ag-function-description").value.trim() || "A function.", parameters }] },
    });
    await awsJson("POST", `/agents/${uriEncode(current)}/`);
    await waitFor(current, "PREPARED");
    await select(current);
  }

  async function ask(event) {
    event.preventDefault();
    const text = $("#ag-input").value.trim();
    if (!text || !current) return;
    const { agent } = await awsJson("GET", `/agents/${uriEncode(current)}/`);
    if (agent.agentStatus !== "PREPARED") {
      await awsJson("POST", `/agents/${uriEncode(current)}/`);
      await waitFor(current, "PREPARED");
    }
    $("#ag-input").value = "";
    $("#ag-transcript").append(el("div", { class: "msg user", text }));
    const steps = el("ol", { class: "steps" });
    const answer = el("div", { class: "msg assistant pending" }, steps);
    $("#ag-transcript").append(answer);
    const path = `/agents/${uriEncode(current)}/agentAliases/TSTALIASID/sessions/${uriEncode(sessionId)}/text`;
    const body = JSON.stringify({ inputText: text, enableTrace: true });
    try {
      const response = await awsFetch("bedrock", "POST", path, { body, contentType: "application/json" });
      let reply = "";
      for (const message of decodeEventStream(await response.arrayBuffer())) {
        const payload = message.payload ? JSON.parse(message.payload) : {};
        const kind = message.headers[":event-type"] || message.headers[":exception-type"];
        if (message.headers[":message-type"] === "exception") throw new Error(`${kind}: ${payload.message}`);
        if (kind === "chunk") reply += base64Text(payload.bytes);
        if (kind === "trace") {
          const line = traceStep(payload.trace || {});
          if (line) steps.append(line);
        }
        if (kind === "returnControl") reply += `(returned control: ${JSON.stringify(payload.invocationInputs)})`;
      }
      answer.append(el("div", { class: "answer", text: reply }));
    } catch (error) {
      answer.append(el("div", { class: "msg error", text: String(error.message || error) }));
    } finally {
      answer.classList.remove("pending");
    }
  }

  $("#ag-create").addEventListener("submit", (event) => create(event).catch(showError));
  $("#ag-group").addEventListener("submit", (event) => addGroup(event).catch(showError));
  $("#ag-form").addEventListener("submit", (event) => ask(event).catch(showError));
  $("#ag-new").addEventListener("click", () => {
    sessionId = crypto.randomUUID?.() || String(Date.now());
    $("#ag-transcript").replaceChildren();
  });

  return {
    async shown() {
      try {
        const lists = await modelLists();
        fillSelect($("#ag-model"), lists.chat.filter((m) => !m.local), "anthropic.claude-3-haiku-20240307-v1:0");
        await Promise.all([listAgents(), listFunctions()]);
      } catch (error) {
        showError(error);
      }
    },
  };
}
