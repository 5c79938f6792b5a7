// Personalize: dataset groups with their datasets and latest import jobs, solutions with each version's
// status, training time and offline metrics (GetSolutionMetrics), campaigns, and GetRecommendations.
import { awsFetch } from "./aws.js";
import { $, el, showError } from "./ui.js";
import { badge, call, fillChoices, fillTable, fixed, listAll, statusKind } from "./ml_common.js";

const api = (operation, payload) => call("personalize", "AmazonPersonalize", operation, payload);
const list = (operation, key, payload = {}) => listAll((token) => api(operation, { ...payload, ...token, maxResults: 100 }), key);
const tail = (arn) => arn.split("/").pop();

async function recommend(campaignArn, userId, itemId, numResults) {
  const body = { campaignArn, numResults };
  if (userId) body.userId = userId;
  if (itemId) body.itemId = itemId;
  const response = await awsFetch("personalize", "POST", "/recommendations", {
    body: JSON.stringify(body),
    contentType: "application/json",
  });
  return response.json();
}

export function initPersonalize() {
  const finished = new Map(); // version ARN -> {hours, metrics}: fixed once the version is ACTIVE

  async function versionDetail(version) {
    if (finished.has(version.solutionVersionArn)) return finished.get(version.solutionVersionArn);
    const { solutionVersion } = await api("DescribeSolutionVersion", { solutionVersionArn: version.solutionVersionArn });
    const detail = { hours: solutionVersion.trainingHours, metrics: null, reason: solutionVersion.failureReason };
    if (solutionVersion.status === "ACTIVE") {
      detail.metrics = (await api("GetSolutionMetrics", { solutionVersionArn: version.solutionVersionArn })).metrics || {};
      finished.set(version.solutionVersionArn, detail);
    }
    return detail;
  }

  async function refresh() {
    const statuses = [];
    const groups = await list("ListDatasetGroups", "datasetGroups");
    const datasetRows = [];
    const versionRows = [];
    const campaigns = [];
    for (const group of groups) {
      statuses.push(group.status);
      const [datasets, solutions] = await Promise.all([
        list("ListDatasets", "datasets", { datasetGroupArn: group.datasetGroupArn }),
        list("ListSolutions", "solutions", { datasetGroupArn: group.datasetGroupArn }),
      ]);
      if (!datasets.length) datasetRows.push({ cells: [group.name, badge(group.status), "no datasets", "", ""] });
      for (const dataset of datasets) {
        const jobs = await list("ListDatasetImportJobs", "datasetImportJobs", { datasetArn: dataset.datasetArn });
        const job = jobs.sort((a, b) => String(b.creationDateTime).localeCompare(String(a.creationDateTime)))[0];
        statuses.push(dataset.status, job?.status);
        datasetRows.push({
          cells: [group.name, badge(group.status), dataset.datasetType, job ? job.jobName : "no import yet", job ? badge(job.status) : ""],
          attrs: { "data-dataset": dataset.datasetArn },
        });
      }
      for (const solution of solutions) {
        const [versions, found] = await Promise.all([
          list("ListSolutionVersions", "solutionVersions", { solutionArn: solution.solutionArn }),
          list("ListCampaigns", "campaigns", { solutionArn: solution.solutionArn }),
        ]);
        campaigns.push(...found);
        if (!versions.length) versionRows.push({ cells: [solution.name, tail(solution.recipeArn || ""), "no version yet", badge(solution.status), "", "", "", ""] });
        for (const version of versions) {
          statuses.push(version.status);
          const detail = await versionDetail(version);
          const metrics = detail.metrics || {};
          const state = badge(version.status);
          if (detail.reason) state.title = detail.reason;
          versionRows.push({
            cells: [
              solution.name,
              tail(solution.recipeArn || ""),
              tail(version.solutionVersionArn),
              state,
              detail.hours == null ? "" : Number((detail.hours * 3600).toFixed(2)),
              metrics.normalized_discounted_cumulative_gain_at_10 ?? "",
              metrics.precision_at_10 ?? "",
              metrics.coverage ?? "",
            ],
            attrs: { "data-version": version.solutionVersionArn },
          });
        }
      }
    }
    for (const campaign of campaigns) statuses.push(campaign.status);
    fillTable("#pz-datasets", datasetRows, "No dataset groups yet.");
    fillTable("#pz-versions", versionRows, "No solutions yet.");
    fillTable(
      "#pz-campaigns",
      campaigns.map((c) => ({ cells: [c.name, badge(c.status), c.campaignArn], attrs: { "data-campaign": c.campaignArn } })),
      "No campaigns yet.",
    );
    fillChoices(
      $("#pz-campaign"),
      campaigns.filter((c) => c.status === "ACTIVE").map((c) => ({ value: c.campaignArn, label: c.name })),
    );
    return statuses.some((status) => status && statusKind(status) === "running");
  }

  $("#pz-recommend-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("#pz-recommend");
    button.disabled = true;
    try {
      const count = Number($("#pz-count").value) || 10;
      const answer = await recommend($("#pz-campaign").value, $("#pz-user").value.trim(), $("#pz-item").value.trim(), count);
      const items = answer.itemList || [];
      $("#pz-results").replaceChildren(
        el("p", { class: "muted", text: `${items.length} items · recommendation ${answer.recommendationId || ""}` }),
        el("ol", { class: "ml-items" }, ...items.map((item) => el("li", { text: item.score == null ? item.itemId : `${item.itemId} (score ${fixed(item.score)})` }))),
      );
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });

  return { refresh };
}
