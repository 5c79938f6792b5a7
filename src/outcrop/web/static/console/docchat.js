// Chat with your documents: RetrieveAndGenerate, with numbered citations that open the source chunk.
import { awsJson, loadSettings } from "./aws.js";
import { $, el, fillSelect, modelLists, showError } from "./ui.js";

let turnNumber = 0;

/** The answer with a [n] marker after each cited span, and one collapsible source per distinct chunk. */
function renderAnswer(output, citations) {
  const turn = ++turnNumber;
  const text = output.text || "";
  const sources = [];
  const keyOf = (ref) => `${ref.location?.s3Location?.uri || ""}\n${ref.content?.text || ""}`;
  const marks = [];
  for (const citation of citations || []) {
    const end = citation.generatedResponsePart?.textResponsePart?.span?.end;
    const numbers = [];
    for (const ref of citation.retrievedReferences || []) {
      let index = sources.findIndex((source) => keyOf(source) === keyOf(ref));
      if (index < 0) index = sources.push(ref) - 1;
      if (!numbers.includes(index + 1)) numbers.push(index + 1);
    }
    if (numbers.length) marks.push({ at: typeof end === "number" ? Math.min(end + 1, text.length) : text.length, numbers });
  }
  marks.sort((a, b) => a.at - b.at);
  const body = el("div", { class: "msg assistant" });
  let position = 0;
  for (const mark of marks) {
    body.append(text.slice(position, mark.at));
    position = mark.at;
    for (const number of mark.numbers) {
      body.append(
        el("a", {
          class: "cite",
          href: `#dc-src-${turn}-${number}`,
          text: String(number),
          onclick: (event) => {
            event.preventDefault();
            const target = document.getElementById(`dc-src-${turn}-${number}`);
            for (const open of document.querySelectorAll(".source.highlight")) open.classList.remove("highlight");
            target.open = true;
            target.classList.add("highlight");
            target.scrollIntoView({ block: "nearest" });
          },
        }),
      );
    }
  }
  body.append(text.slice(position));
  const list = el(
    "div",
    { class: "sources" },
    ...sources.map((ref, index) => {
      const uri = ref.location?.s3Location?.uri || ref.location?.webLocation?.url || ref.location?.type || "source";
      return el(
        "details",
        { class: "source", id: `dc-src-${turn}-${index + 1}` },
        el("summary", { text: `[${index + 1}] ${uri}` }),
        el("pre", { text: ref.content?.text || "" }),
      );
    }),
  );
  return [body, sources.length ? list : null];
}

export function initDocChat() {
  let sessionId = null;
  let loaded = false;
  const transcript = $("#dc-transcript");

  $("#dc-new").addEventListener("click", () => {
    sessionId = null;
    transcript.replaceChildren();
  });
  $("#dc-question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("#dc-form").requestSubmit();
    }
  });
  $("#dc-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = $("#dc-question").value.trim();
    const kbId = $("#dc-kb").value;
    if (!question || !kbId) return;
    $("#dc-question").value = "";
    $("#dc-ask").disabled = true;
    transcript.append(el("div", { class: "msg user", text: question }));
    const pending = el("div", { class: "msg assistant pending", text: "Searching your documents…" });
    transcript.append(pending);
    try {
      const request = {
        input: { text: question },
        retrieveAndGenerateConfiguration: {
          type: "KNOWLEDGE_BASE",
          knowledgeBaseConfiguration: {
            knowledgeBaseId: kbId,
            modelArn: `arn:aws:bedrock:${loadSettings().region}::foundation-model/${$("#dc-model").value}`,
          },
        },
      };
      if (sessionId) request.sessionId = sessionId;
      const result = await awsJson("POST", "/retrieveAndGenerate", request);
      sessionId = result.sessionId;
      pending.replaceWith(...renderAnswer(result.output, result.citations).filter(Boolean));
    } catch (error) {
      pending.replaceWith(el("div", { class: "msg error", text: error.message }));
    } finally {
      $("#dc-ask").disabled = false;
      transcript.scrollTop = transcript.scrollHeight;
    }
  });

  return {
    async shown() {
      try {
        if (!loaded) {
          const { chat } = await modelLists();
          fillSelect($("#dc-model"), chat.filter((model) => !model.local), "anthropic.claude-3-haiku-20240307-v1:0");
          loaded = true;
        }
        const previous = $("#dc-kb").value;
        const { knowledgeBaseSummaries } = await awsJson("POST", "/knowledgebases/", { maxResults: 100 });
        fillSelect(
          $("#dc-kb"),
          knowledgeBaseSummaries.map((kb) => ({ id: kb.knowledgeBaseId, label: kb.name })),
          previous,
        );
      } catch (error) {
        showError(error);
      }
    },
  };
}
