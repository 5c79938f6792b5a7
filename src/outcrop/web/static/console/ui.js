// Helpers every tab shares: DOM building, the error banner, health, and the model lists.
import { awsJson } from "./aws.js";

export const $ = (selector) => document.querySelector(selector);

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

export function showError(error) {
  const banner = $("#banner");
  banner.textContent = error instanceof Error ? error.message : String(error);
  banner.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (banner.hidden = true), 12000);
}

export async function health() {
  const response = await fetch("/_outcrop/health");
  return response.json();
}

/** Chat and embedding models: the catalog's Bedrock ids, then the local model names. */
export async function modelLists() {
  if (!modelLists.cached) {
    modelLists.cached = (async () => {
      const [catalog, state] = await Promise.all([awsJson("GET", "/foundation-models"), health()]);
      const chat = [];
      const embedding = [];
      for (const model of catalog.modelSummaries || []) {
        const item = { id: model.modelId, label: `${model.modelName} — ${model.modelId}` };
        (model.outputModalities.includes("EMBEDDING") ? embedding : chat).push(item);
      }
      for (const [name, entry] of Object.entries(state.models || {})) {
        const item = { id: name, label: `${name} (local)`, local: true };
        if (entry.kind === "chat") chat.push(item);
        else if (entry.kind === "embedding") embedding.push(item);
      }
      return { chat, embedding };
    })();
    modelLists.cached.catch(() => (modelLists.cached = null));
  }
  return modelLists.cached;
}

export function fillSelect(select, items, preferred) {
  select.replaceChildren(...items.map((item) => el("option", { value: item.id, text: item.label })));
  if (preferred && items.some((item) => item.id === preferred)) select.value = preferred;
}
