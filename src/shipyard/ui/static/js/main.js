// The UI's entry point: a router over the location's hash (#/runs/<id>, …) that hands
// each view to its page module, and sends the browser to the sign-in form on a 401.

import {SignInNeeded, getJson, postJson, signedIn} from "./api.js";
import {failure, h, notFound} from "./dom.js";
import {go, here} from "./nav.js";
import * as compare from "./pages/compare.js";
import * as experiments from "./pages/experiments.js";
import * as login from "./pages/login.js";
import * as automation from "./pages/automation.js";
import * as automationRun from "./pages/automation_run.js";
import * as features from "./pages/features.js";
import * as pipelineRun from "./pages/pipeline_run.js";
import * as pipelines from "./pages/pipelines.js";
import * as run from "./pages/run.js";
import * as dataset from "./pages/dataset.js";
import * as datasets from "./pages/datasets.js";
import * as lineage from "./pages/lineage.js";
import * as model from "./pages/model.js";
import * as models from "./pages/models.js";
import * as runs from "./pages/runs.js";
import * as alerts from "./pages/alerts.js";
import * as deployments from "./pages/deployments.js";
import * as monitor from "./pages/monitor.js";
import * as monitors from "./pages/monitors.js";

const ROUTES = [
  [/^\/?$/, experiments.render],
  [/^\/experiments\/([^/]+)$/, runs.render],
  [/^\/runs\/([^/]+)$/, run.render],
  [/^\/compare$/, compare.render],
  [/^\/login$/, login.render],
  [/^\/deployments$/, deployments.render],
  [/^\/deployments\/([^/]+)$/, deployments.renderOne],
  [/^\/monitors$/, monitors.render],
  [/^\/monitors\/([^/]+)$/, monitor.render],
  [/^\/alerts$/, alerts.render],
  [/^\/alerts\/rules\/([^/]+)$/, alerts.renderRule],
  [/^\/models$/, models.render],
  [/^\/models\/([^/]+)$/, model.render],
  [/^\/models\/([^/]+)\/versions\/([^/]+)$/, model.render],
  [/^\/datasets$/, datasets.render],
  [/^\/datasets\/([^/]+)$/, dataset.render],
  [/^\/datasets\/([^/]+)\/versions\/([^/]+)$/, dataset.render],
  [/^\/lineage$/, lineage.render],
  [/^\/pipelines$/, pipelines.render],
  [/^\/pipelines\/runs\/([^/]+)$/, pipelineRun.render],
  [/^\/features$/, features.render],
  [/^\/features\/([^/]+)\/([^/]+)$/, features.renderObject],
  [/^\/automation$/, automation.render],
  [/^\/automation\/policies\/([^/]+)$/, automation.renderPolicy],
  [/^\/automation\/runs\/([^/]+)$/, automationRun.render],
];

let current = 0; // the navigation being drawn: a slower, older one draws nothing

async function show() {
  const navigation = ++current;
  const {path, query} = here();
  const root = h("div", {class: "page"});
  document.getElementById("view").replaceChildren(root);
  showSession();
  const found = ROUTES.map(([pattern, page]) => [path.match(pattern), page]).find(([m]) => m);
  if (!found) {
    notFound(root, `There is no page at ${path}.`);
    return;
  }
  const [match, page] = found;
  try {
    await page(root, {params: match.slice(1).map(decodeURIComponent), query, live: () => navigation === current});
  } catch (error) {
    if (navigation !== current) return;
    if (error instanceof SignInNeeded) {
      go("/login", {next: `${path}${query.size ? `?${query}` : ""}`}, {replace: true});
      show();
    } else {
      console.warn(error);
      failure(root, error);
    }
  }
}

function showSession() {
  const out = document.getElementById("sign-out");
  const who = document.getElementById("who");
  out.hidden = !signedIn();
  who.textContent = signedIn() ? sessionStorage.getItem("shipyard.user") || "" : "";
}

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await postJson("/logout");
  } catch (error) {
    console.warn(error); // signed out already, or the session had ended: the form is next either way
  }
  sessionStorage.removeItem("shipyard.user");
  go("/login");
});

// A session started elsewhere (single sign-on, another tab) leaves this tab without the user's
// name and role, which decide the controls offered: ask the API whom the session acts as.
async function learnWho() {
  if (!signedIn() || sessionStorage.getItem("shipyard.user")) return;
  try {
    const who = await getJson("/api/v1/me");
    sessionStorage.setItem("shipyard.user", `${who.name} (${who.role})`);
  } catch {
    // No session after all (it expired): the page's own calls lead to the sign-in form.
  }
}

window.addEventListener("hashchange", show);
learnWho().then(show);
