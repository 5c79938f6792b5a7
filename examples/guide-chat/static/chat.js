// The chat page: plain requests to the app's API routes (relative URLs, so it works under any prefix).
// Streamed answers: POST chat/stream starts one, then the page polls chat/stream/<id> until it is done.
"use strict";

const messages = document.getElementById("messages");
const form = document.getElementById("ask");
const input = document.getElementById("message");
const streamBox = document.getElementById("stream");
const sendButton = document.getElementById("send");
const statusLine = document.getElementById("status");
const dialog = document.getElementById("source-dialog");
const passages = document.getElementById("source-passages");
const POLL_MS = 250;
let sessionId = null;

function addMessage(role, text) {
  const item = document.createElement("li");
  item.className = role;
  item.textContent = text;
  messages.appendChild(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

function showSources(citation) {
  passages.replaceChildren();
  for (const reference of citation.references) {
    const quote = document.createElement("blockquote");
    quote.className = "passage";
    quote.textContent = reference.text;
    passages.appendChild(quote);
    if (reference.uri) {
      const link = document.createElement("a");
      link.className = "source-link";
      link.textContent = reference.uri;
      link.target = "_blank";
      link.href = reference.uri.startsWith("s3://") ? "source?uri=" + encodeURIComponent(reference.uri) : reference.uri;
      passages.appendChild(link);
    }
  }
  dialog.showModal();
}

// The answer's text with a numbered link after each cited span; each opens the passages behind it.
function renderAnswer(item, answer, elapsedMs) {
  item.replaceChildren();
  const text = answer.text || "";
  const cited = (answer.citations || []).filter((c) => c.span && c.references.length);
  let position = 0;
  cited.forEach((citation, index) => {
    const end = Math.min(citation.span.end + 1, text.length);
    if (end > position) {
      item.appendChild(document.createTextNode(text.slice(position, end)));
      position = end;
    }
    const sup = document.createElement("sup");
    sup.className = "cite";
    const link = document.createElement("a");
    link.textContent = `[${index + 1}]`;
    link.dataset.citation = String(index);
    link.addEventListener("click", () => showSources(citation));
    sup.appendChild(link);
    item.appendChild(sup);
  });
  item.appendChild(document.createTextNode(text.slice(position)));
  if (answer.done) {
    const meta = document.createElement("span");
    meta.className = "meta";
    const source = answer.rag ? "knowledge base" : "model";
    meta.textContent = `${source} · ${(elapsedMs / 1000).toFixed(1)} s`;
    item.appendChild(meta);
  }
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || data.message || `HTTP ${response.status}`);
  return data;
}

async function askPlain(message, item, started) {
  const data = await postJson("chat", { message });
  renderAnswer(item, { text: data.response, done: true }, performance.now() - started);
}

async function askStreaming(message, item, started) {
  const { id } = await postJson("chat/stream", { message, sessionId });
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const response = await fetch(`chat/stream/${id}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status} while reading the answer`);
    const answer = await response.json();
    if (answer.error) throw new Error(answer.error);
    renderAnswer(item, answer, performance.now() - started);
    if (answer.done) {
      sessionId = answer.sessionId || sessionId;
      return;
    }
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = input.value.trim();
  if (!message) return;
  addMessage("user", message);
  input.value = "";
  const item = addMessage("assistant", "…");
  sendButton.disabled = true;
  statusLine.textContent = "thinking…";
  const started = performance.now();
  try {
    await (streamBox.checked ? askStreaming : askPlain)(message, item, started);
    statusLine.textContent = "";
  } catch (error) {
    item.className = "assistant error";
    item.textContent = `Error: ${error.message}`;
    statusLine.textContent = "";
  } finally {
    sendButton.disabled = false;
    input.focus();
  }
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});
