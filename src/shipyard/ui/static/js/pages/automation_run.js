// One automation run: where it is in the state machine, the evidence each stage gathered
// (metric tables with their intervals, shadow and canary comparisons, drawn as tables
// from the JSON), its audit trail, and — while it awaits approval — Approve and Reject
// with a required reason. The API decides who may; a refusal shows its message.

import {ApiError, getJson, postJson, role} from "../api.js";
import {fill, h, notFound, table} from "../dom.js";
import * as format from "../format.js";
import {auditTable, policyLink, policyUrl, stateBadge} from "./automation.js";

const AUDIT_PAGES = 10; // pages of the policy's trail searched for this run's entries
const DECIDERS = new Set(["approver", "admin"]);

function isInterval(v) {
  if (Array.isArray(v)) return v.length === 2 && v.every((x) => x === null || typeof x === "number");
  if (v === null || typeof v !== "object") return false;
  const keys = Object.keys(v).sort().join(",");
  return keys === "high,low" || keys === "lower,upper";
}

function text(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return format.metric(v);
  return String(v);
}

/** A value that fits in one cell ("0.81", "[0.01, 0.03]", "a, b"), or null for a nested one. */
function compact(v) {
  if (v === null || typeof v !== "object") return text(v);
  if (isInterval(v)) {
    const [lo, hi] = Array.isArray(v) ? v : "low" in v ? [v.low, v.high] : [v.lower, v.upper];
    return `[${text(lo)}, ${text(hi)}]`;
  }
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object")) return v.length ? v.map(text).join(", ") : "none";
  if (!Array.isArray(v) && !Object.keys(v).length) return "none";
  return null;
}

// The database keeps evidence with sorted keys: stages are shown in the order a run passes
// them, and a comparison's columns champion before challenger.
const STAGES = ["trigger", "guards", "retrain", "evaluation", "gates", "approval", "shadow", "canary", "promotion",
  "rollback"];
const FIRST_COLUMNS = ["metric", "name", "champion", "challenger", "difference", "interval"];
const ranked = (order) => (a, b) => {
  const ra = order.indexOf(a), rb = order.indexOf(b);
  return (ra < 0 ? order.length : ra) - (rb < 0 ? order.length : rb) || a.localeCompare(b);
};

const isRecord = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && compact(v) === null;
const label = (key) => key.replace(/_/g, " ");

/** Evidence as tables: rows of records become one table (a metric per row, its figures
 * and interval across), lists of records a table with a row each, anything else key/value. */
export function evidenceView(value) {
  const flat = compact(value);
  if (flat !== null) return flat;
  const cell = (v) => {
    const c = compact(v);
    return c !== null ? h("td", {class: typeof v === "number" ? "num" : "value"}, c) : h("td", {}, evidenceView(v));
  };
  const columnsOf = (rows) => [...new Set(rows.flatMap((r) => Object.keys(r)))].sort(ranked(FIRST_COLUMNS));
  if (Array.isArray(value)) {
    if (value.every(isRecord)) {
      const columns = columnsOf(value);
      return table(columns.map(label), value.map((row) => h("tr", {}, columns.map((c) => cell(row[c])))), {class: "grid evidence"});
    }
    return h("ol", {}, value.map((item) => h("li", {}, evidenceView(item))));
  }
  const entries = Object.entries(value);
  const records = entries.filter(([, v]) => isRecord(v) && Object.values(v).every((x) => compact(x) !== null));
  if (records.length >= 1 && records.length === entries.length) {
    const columns = columnsOf(records.map(([, v]) => v));
    return table(["", ...columns.map(label)], records.map(([key, row]) =>
      h("tr", {}, h("th", {scope: "row", class: "key"}, key), columns.map((c) => cell(row[c])))), {class: "grid evidence"});
  }
  return h("table", {class: "kv evidence"},
    h("tbody", {}, entries.map(([key, v]) => h("tr", {}, h("th", {scope: "row", class: "key"}, label(key)), cell(v)))));
}

export async function render(root, {params: [runId], live}) {
  const url = `/api/v1/automation/runs/${encodeURIComponent(runId)}`;
  let run;
  try {
    run = await getJson(url);
  } catch (error) {
    if (error instanceof ApiError && error.notFound) return notFound(root, `There is no automation run ${runId}.`);
    throw error;
  }
  if (!live()) return;
  document.title = `Run of ${run.policy} · Automation · Shipyard`;
  const summary = h("div"), decision = h("div", {id: "decision"}), evidence = h("div", {id: "evidence"});
  const audit = h("div", {class: "scroll", id: "run-audit-box"});
  const announce = h("p", {role: "status", id: "decision-done", class: "muted"});

  function draw() {
    fill(summary, h("dl", {class: "summary"}, [
      ["Run", h("code", {}, run.id)],
      ["Policy", [h("a", {href: policyLink(run.policy)}, run.policy), " ",
        h("a", {href: policyLink(run.policy, run.policy_version)}, `v${run.policy_version}`)]],
      ["State", h("span", {id: "run-state"}, stateBadge(run.state))],
      ["Started", format.time(run.started_at)],
      ["Last change", format.time(run.updated_at)],
      ["Ended", run.ended_at ? format.time(run.ended_at) : "not yet"],
      ...(run.reason ? [["Reason", run.reason]] : []),
      ...(run.resume_state ? [["An approval sends it to", run.resume_state.replace(/_/g, " ")]] : []),
    ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
    drawDecision();
    const stages = Object.entries(run.evidence).sort(([a], [b]) => ranked(STAGES)(a, b));
    fill(evidence, stages.length ? stages.map(([stage, found]) => h("section", {class: "stage", dataset: {stage}},
      h("h3", {}, label(stage)), evidenceView(found))) : h("p", {class: "muted"}, "No evidence gathered yet."));
  }

  function drawDecision() {
    if (run.state !== "awaiting_approval") return decision.replaceChildren();
    const who = role();
    if (who !== null && !DECIDERS.has(who)) {
      return fill(decision, h("h2", {}, "Approval"), h("p", {class: "muted"},
        "This run awaits approval by an approver; your role may not decide it."));
    }
    const reason = h("textarea", {id: "decision-reason", rows: "3", cols: "60", required: true, maxlength: "10000",
      "aria-describedby": "decision-error"});
    const error = h("p", {class: "error", role: "alert", id: "decision-error"});
    const buttons = [];
    const decide = (verb) => async () => {
      error.textContent = "";
      if (!reason.value.trim()) {
        reason.setAttribute("aria-invalid", "true");
        error.textContent = `Give a reason to ${verb} the run: it is kept in the audit trail.`;
        reason.focus();
        return;
      }
      reason.removeAttribute("aria-invalid");
      buttons.forEach((b) => { b.disabled = true; });
      try {
        run = await postJson(`${url}/${verb}`, {reason: reason.value.trim()});
      } catch (failed) {
        if (!(failed instanceof ApiError)) throw failed;
        error.textContent = failed.message; // the API's own words: a refused role, a run that moved meanwhile
        buttons.forEach((b) => { b.disabled = false; });
        return;
      }
      if (!live()) return;
      announce.textContent = `${verb === "approve" ? "Approved" : "Rejected"}: the run is now ${run.state.replace(/_/g, " ")}.`;
      draw();
      loadAudit().catch(auditFailed);
    };
    buttons.push(h("button", {type: "button", id: "approve", class: "approve", onclick: decide("approve")}, "Approve"),
      h("button", {type: "button", id: "reject", class: "reject", onclick: decide("reject")}, "Reject"));
    fill(decision, h("h2", {}, "Approval"),
      h("p", {}, `This run waits for a person. An approval sends it to ${(run.resume_state || "its next stage").replace(/_/g, " ")}; a rejection ends it.`),
      h("form", {class: "decision", onsubmit: (e) => e.preventDefault()},
        h("label", {for: "decision-reason"}, "Reason (required; kept in the audit trail)"), reason,
        h("div", {class: "toolbar"}, buttons)),
      error);
  }

  async function loadAudit() {
    const entity = `${run.policy}/${run.id}`;
    const found = [];
    let token = null, pages = 0;
    do {
      const page = await getJson(`${policyUrl(run.policy)}/audit`, token ? {max_results: 200, page_token: token} : {max_results: 200});
      found.push(...page.items.filter((e) => e.entity_id === entity));
      token = page.next_page_token || null;
      pages += 1;
    } while (token && pages < AUDIT_PAGES);
    if (!live()) return;
    fill(audit, auditTable(found, "run-audit"),
      token ? h("p", {class: "muted"}, "Older entries of the policy were not searched.") : null);
  }
  const auditFailed = (error) => fill(audit, h("p", {class: "error", role: "alert"}, error.message));

  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/automation"}, "Automation"), " / ",
      h("a", {href: policyLink(run.policy)}, run.policy), " / "),
    h("h1", {}, `Run of ${run.policy}`),
    announce, summary, decision,
    h("h2", {}, "Evidence"), evidence,
    h("h2", {}, "Audit trail"), audit);
  draw();
  await loadAudit().catch(auditFailed);
}
