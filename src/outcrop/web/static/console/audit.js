// The Audit page: recent CloudTrail events through LookupEvents, filtered by one lookup attribute, a time
// range and errors only, a page at a time; a row opens the whole CloudTrail record. A principal that may
// not call cloudtrail:LookupEvents sees AWS's AccessDenied sentence here instead of a table.
import { awsTarget } from "./aws.js";
import { $, el } from "./ui.js";

const TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";
const PAGE = 50;

export function initAudit() {
  let nextToken = null;
  let request = null;

  function row(event) {
    const record = JSON.parse(event.CloudTrailEvent || "{}");
    const error = record.errorCode ? `${record.errorCode}` : "";
    const when = new Date(event.EventTime * 1000 || event.EventTime).toISOString().replace("T", " ").slice(0, 19);
    const tr = el("tr", { class: error ? "failed" : "", "data-event": event.EventId },
      el("td", { text: when }),
      el("td", { text: event.EventName }),
      el("td", { text: event.EventSource }),
      el("td", { text: event.Username || record.userIdentity?.arn || "" }),
      el("td", { text: record.sourceIPAddress || "" }),
      el("td", { text: error, title: record.errorMessage || "" }));
    tr.addEventListener("click", () => {
      const detail = $("#au-detail");
      detail.textContent = JSON.stringify(record, null, 2);
      detail.hidden = false;
    });
    return tr;
  }

  async function lookup(more) {
    const body = $("#au-events tbody");
    const message = $("#au-message");
    if (!more) {
      const key = $("#au-key").value;
      const value = $("#au-value").value.trim();
      request = { MaxResults: PAGE };
      if (key && value) request.LookupAttributes = [{ AttributeKey: key, AttributeValue: value }];
      if ($("#au-start").value) request.StartTime = new Date($("#au-start").value).getTime() / 1000;
      if ($("#au-end").value) request.EndTime = new Date($("#au-end").value).getTime() / 1000;
      body.replaceChildren();
      $("#au-detail").hidden = true;
      nextToken = null;
    }
    message.className = "muted";
    message.textContent = "Looking up…";
    try {
      const answer = await awsTarget("cloudtrail", TARGET, nextToken ? { ...request, NextToken: nextToken } : request);
      let events = answer.Events || [];
      if ($("#au-errors").checked) events = events.filter((e) => JSON.parse(e.CloudTrailEvent || "{}").errorCode);
      body.append(...events.map(row));
      nextToken = answer.NextToken || null;
      $("#au-more").hidden = !nextToken;
      const shown = body.children.length;
      message.textContent = shown ? `${shown} event${shown === 1 ? "" : "s"}${nextToken ? ", more available" : ""}.` : "No events match.";
    } catch (error) {
      message.className = "error";
      message.textContent = error.message;
      $("#au-more").hidden = true;
    }
  }

  $("#au-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    lookup(false);
  });
  $("#au-more").addEventListener("click", () => lookup(true));
  return {
    shown() {
      if (request === null) lookup(false);
    },
  };
}
