// The console shell: sign-in (auth = "iam"), tabs, the shared model lists, the error banner and the settings.
import { callerIdentity, loadAuthMode, loadSettings, saveSettings, signIn, signOut, signedIn } from "./aws.js";
import { $, health, modelLists, showError } from "./ui.js";
import { initPlayground } from "./playground.js";
import { initKnowledgeBases } from "./kb.js";
import { initDocChat } from "./docchat.js";
import { initAgents } from "./agents.js";
import { initGuardrails } from "./guardrails.js";
import { initMl } from "./ml.js";
import { initStatus } from "./status.js";
import { initAudit } from "./audit.js";

const tabs = {};

function show(name) {
  if (!document.getElementById(`tab-${name}`)) name = "playground";
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== `tab-${name}`;
  for (const button of document.querySelectorAll(".nav")) button.classList.toggle("active", button.dataset.tab === name);
  for (const [key, tab] of Object.entries(tabs)) {
    if (key === name) tab.shown?.();
    else tab.hidden?.();
  }
}

function initSettings() {
  const fields = { accessKey: "#set-access-key", secretKey: "#set-secret-key", region: "#set-region", apiKey: "#set-api-key" };
  const current = loadSettings();
  for (const [key, selector] of Object.entries(fields)) $(selector).value = current[key];
  $("#settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const values = {};
    for (const [key, selector] of Object.entries(fields)) values[key] = $(selector).value.trim();
    saveSettings(values);
    modelLists.cached = null;
    $("#set-saved").textContent = "Saved.";
  });
}

function showIdentity(identity) {
  $("#whoami").hidden = false;
  $("#whoami-arn").textContent = `Signed in as ${identity.arn}`;
}

/** Under auth = "iam": ask for a key until one signs in (GetCallerIdentity), then start the console. */
async function initSignIn(mode) {
  $("#whoami").hidden = true;
  if (mode !== "iam") return;
  for (const label of document.querySelectorAll("#settings-form .keys")) label.hidden = true;
  $("#sign-out").addEventListener("click", () => {
    signOut();
    location.reload();
  });
  if (signedIn()) {
    try {
      showIdentity(await callerIdentity());
      return;
    } catch {
      signOut(); // expired or deleted: sign in again
    }
  }
  $("#sign-in").hidden = false;
  await new Promise((resolve) => {
    $("#sign-in-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $("#sign-in-error");
      error.hidden = true;
      try {
        const identity = await signIn(
          $("#sign-in-access-key").value.trim(),
          $("#sign-in-secret-key").value.trim(),
          $("#sign-in-session-token").value.trim(),
        );
        $("#sign-in-secret-key").value = "";
        $("#sign-in").hidden = true;
        showIdentity(identity);
        resolve();
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
      }
    });
  });
}

window.addEventListener("DOMContentLoaded", async () => {
  await initSignIn(await loadAuthMode());
  initSettings();
  tabs.playground = initPlayground();
  tabs.kb = initKnowledgeBases();
  tabs.docchat = initDocChat();
  tabs.agents = initAgents();
  tabs.guardrails = initGuardrails();
  tabs.ml = initMl();
  tabs.audit = initAudit();
  tabs.status = initStatus();
  for (const button of document.querySelectorAll(".nav")) {
    button.addEventListener("click", () => (location.hash = button.dataset.tab));
  }
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  show(location.hash.slice(1) || "playground");
  try {
    const state = await health();
    $("#server-version").textContent = `Outcrop ${state.version} · ${Object.keys(state.services).length} services`;
  } catch (error) {
    showError(error);
  }
});
