// Forecast: datasets with their latest import jobs, predictors with backtest accuracy (GetAccuracyMetrics),
// forecasts, and QueryForecast for one series, drawn as a p10-p90 band around the median.
import { $, el, showError } from "./ui.js";
import { badge, call, fillChoices, fillTable, fixed, listAll, statusKind } from "./ml_common.js";

const api = (operation, payload) => call("forecast", "AmazonForecast", operation, payload);
const list = (operation, key, payload = {}) =>
  listAll((token) => api(operation, { ...payload, ...token, MaxResults: 100 }), key, "NextToken");
const SVG = "http://www.w3.org/2000/svg";

/** The summary backtest window's figures: average wQL and the mean (or first) forecast type's errors. */
function accuracy(metrics) {
  const windows = metrics.PredictorEvaluationResults?.[0]?.TestWindows || [];
  const summary = windows.find((w) => w.EvaluationType === "SUMMARY") || windows[0];
  const found = summary?.Metrics || {};
  const errors = found.ErrorMetrics || [];
  const point = errors.find((e) => e.ForecastType === "mean") || errors.find((e) => e.ForecastType === "0.5") || errors[0] || {};
  return { wql: found.AverageWeightedQuantileLoss, ...point, windows: windows.filter((w) => w.EvaluationType !== "SUMMARY").length };
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** A small chart: the p10-p90 band, the p50 (or mean) line and its points. */
export function chart(predictions) {
  const middle = predictions.p50 || predictions.mean || Object.values(predictions)[0] || [];
  const low = predictions.p10 || middle;
  const high = predictions.p90 || middle;
  const all = [...low, ...high, ...middle].map((p) => p.Value);
  const width = 560, height = 180, pad = 28;
  const box = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "ml-chart", role: "img", "aria-label": "forecast chart" });
  if (!middle.length) return box;
  const min = Math.min(...all), max = Math.max(...all);
  const span = max - min || 1;
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(middle.length - 1, 1);
  const y = (v) => height - pad - ((v - min) * (height - 2 * pad)) / span;
  const upper = high.map((p, i) => `${x(i)},${y(p.Value)}`);
  const lower = low.map((p, i) => `${x(i)},${y(p.Value)}`).reverse();
  box.append(svg("polygon", { points: [...upper, ...lower].join(" "), class: "band" }));
  box.append(svg("polyline", { points: middle.map((p, i) => `${x(i)},${y(p.Value)}`).join(" "), class: "line" }));
  for (const [i, p] of middle.entries()) box.append(svg("circle", { cx: x(i), cy: y(p.Value), r: 2.5, class: "dot" }));
  const label = (text, lx, ly, anchor) => {
    const node = svg("text", { x: lx, y: ly, "text-anchor": anchor, class: "axis" });
    node.textContent = text;
    return node;
  };
  box.append(label(fixed(max, 1), pad - 4, y(max) + 4, "end"), label(fixed(min, 1), pad - 4, y(min) + 4, "end"));
  box.append(label(middle[0].Timestamp.slice(0, 10), pad, height - 8, "start"));
  box.append(label(middle[middle.length - 1].Timestamp.slice(0, 10), width - pad, height - 8, "end"));
  return box;
}

function parseFilters(text) {
  const filters = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf("=");
    if (at < 1) throw new Error(`Filters are key=value pairs: "${part}" is not one`);
    filters[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return filters;
}

export function initForecast() {
  const scored = new Map(); // predictor ARN -> accuracy: fixed once ACTIVE

  async function predictorAccuracy(predictor) {
    if (predictor.Status !== "ACTIVE") return {};
    if (!scored.has(predictor.PredictorArn)) {
      scored.set(predictor.PredictorArn, accuracy(await api("GetAccuracyMetrics", { PredictorArn: predictor.PredictorArn })));
    }
    return scored.get(predictor.PredictorArn);
  }

  async function refresh() {
    const statuses = [];
    const [datasets, predictors, forecasts] = await Promise.all([
      list("ListDatasets", "Datasets"),
      list("ListPredictors", "Predictors"),
      list("ListForecasts", "Forecasts"),
    ]);
    const datasetRows = [];
    for (const dataset of datasets) {
      const [described, jobs] = await Promise.all([
        api("DescribeDataset", { DatasetArn: dataset.DatasetArn }),
        list("ListDatasetImportJobs", "DatasetImportJobs", { Filters: [{ Key: "DatasetArn", Value: dataset.DatasetArn, Condition: "IS" }] }),
      ]);
      const job = jobs.sort((a, b) => String(b.CreationTime).localeCompare(String(a.CreationTime)))[0];
      statuses.push(described.Status, job?.Status);
      datasetRows.push({
        cells: [dataset.DatasetName, dataset.DatasetType, described.DataFrequency || "", badge(described.Status), job ? job.DatasetImportJobName : "no import yet", job ? badge(job.Status) : ""],
        attrs: { "data-dataset": dataset.DatasetArn },
      });
    }
    const predictorRows = [];
    for (const predictor of predictors) {
      statuses.push(predictor.Status);
      const found = await predictorAccuracy(predictor);
      const state = badge(predictor.Status);
      if (predictor.Message) state.title = predictor.Message;
      predictorRows.push({
        cells: [predictor.PredictorName, predictor.IsAutoPredictor ? "AutoPredictor" : "legacy", state, found.wql ?? "", found.WAPE ?? "", found.RMSE ?? "", found.MASE ?? "", found.MAPE ?? ""],
        attrs: { "data-predictor": predictor.PredictorArn },
      });
    }
    const names = new Map(predictors.map((p) => [p.PredictorArn, p.PredictorName]));
    for (const forecast of forecasts) statuses.push(forecast.Status);
    fillTable("#fc-datasets", datasetRows, "No datasets yet.");
    fillTable("#fc-predictors", predictorRows, "No predictors yet.");
    fillTable(
      "#fc-forecasts",
      forecasts.map((f) => ({ cells: [f.ForecastName, names.get(f.PredictorArn) || f.PredictorArn, badge(f.Status)], attrs: { "data-forecast": f.ForecastArn } })),
      "No forecasts yet.",
    );
    fillChoices($("#fc-forecast"), forecasts.filter((f) => f.Status === "ACTIVE").map((f) => ({ value: f.ForecastArn, label: f.ForecastName })));
    return statuses.some((status) => status && statusKind(status) === "running");
  }

  $("#fc-query-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("#fc-query");
    button.disabled = true;
    try {
      const filters = parseFilters($("#fc-filters").value);
      const answer = await call("forecast", "AmazonForecastRuntime", "QueryForecast", { ForecastArn: $("#fc-forecast").value, Filters: filters });
      const predictions = answer.Forecast?.Predictions || {};
      const types = Object.keys(predictions);
      const first = predictions[types[0]] || [];
      const table = el("table", { class: "table", id: "fc-points" },
        el("thead", {}, el("tr", {}, el("th", { text: "Date" }), ...types.map((t) => el("th", { text: t })))),
        el("tbody", {}, ...first.map((point, i) =>
          el("tr", {}, el("td", { text: point.Timestamp.slice(0, 10) }), ...types.map((t) => el("td", { class: "num", text: fixed(predictions[t][i]?.Value, 2) }))))),
      );
      $("#fc-result").replaceChildren(chart(predictions), table);
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });

  return { refresh };
}
