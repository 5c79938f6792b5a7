// The "ML services" page: Personalize, Forecast and Fraud Detector, one sub-tab each. Each sub-tab lists
// its resources with their statuses and queries a trained model. While the page is shown, the visible
// sub-tab re-reads its resources every 2 s when a job (import, training, deployment) is still running,
// and every 10 s otherwise, so resources made elsewhere (boto3, the CLI) appear without a reload.
import { $, showError } from "./ui.js";
import { initPersonalize } from "./ml_personalize.js";
import { initForecast } from "./ml_forecast.js";
import { initFraud } from "./ml_fraud.js";

const BUSY_MS = 2000;
const IDLE_MS = 10000;

export function initMl() {
  const panes = { personalize: initPersonalize(), forecast: initForecast(), fraud: initFraud() };
  let current = "personalize";
  let timer = null;
  let visible = false;
  let run = 0; // only the newest refresh schedules the next one

  async function tick() {
    clearTimeout(timer);
    if (!visible) return;
    const mine = ++run;
    const shown = current;
    let busy = false;
    try {
      busy = await panes[shown].refresh();
      $("#ml-refreshed").textContent = `Refreshed ${new Date().toLocaleTimeString()}${busy ? " · jobs running" : ""}`;
    } catch (error) {
      showError(error);
    }
    if (mine === run && visible && shown === current) timer = setTimeout(tick, busy ? BUSY_MS : IDLE_MS);
  }

  function pick(name) {
    current = name;
    for (const button of document.querySelectorAll(".ml-nav")) button.classList.toggle("active", button.dataset.pane === name);
    for (const pane of document.querySelectorAll(".ml-pane")) pane.hidden = pane.id !== `ml-${name}`;
    tick();
  }

  for (const button of document.querySelectorAll(".ml-nav")) button.addEventListener("click", () => pick(button.dataset.pane));
  $("#ml-refresh").addEventListener("click", () => tick());
  return {
    shown() {
      visible = true;
      pick(current);
    },
    hidden() {
      visible = false;
      clearTimeout(timer);
    },
  };
}
