// The UI's entry point: a router over the location's hash (#/runs/<id>, …) that hands
// each view to its page module, and sends the browser to the sign-in form on a 401.

import {SignInNeeded, getJson, postJson, signedIn} from "./api.js";
import {failure, h, notFound} from "./dom.js";
import {go, here} from "./nav.js";

// Each route names its page module, loaded when the route is first opened: the first view
// waits for its own module only, not for every page's.
const ROUTES = [
  [/^\/?$/, "experiments", "render"],
  [/^\/experiments\/([^/]+)$/, "runs", "render"],
  [/^\/runs\/([^/]+)$/, "run", "render"],
  [/^\/compare$/, "compare", "render"],
  [/^\/login$/, "login", "render"],
  [/^\/deployments$/, "deployments", "render"],
  [/^\/deployments\/([^/]+)$/, "deployments", "renderOne"],
  [/^\/monitors$/, "monitors", "render"],
  [/^\/monitors\/([^/]+)$/, "monitor", "render"],
  [/^\/alerts$/, "alerts", "render"],
  [/^\/alerts\/rules\/([^/]+)$/, "alerts", "renderRule"],
  [/^\/models$/, "models", "render"],
  [/^\/models\/([^/]+)$/, "model", "render"],
  [/^\/models\/([^/]+)\/versions\/([^/]+)$/, "model", "render"],
  [/^\/datasets$/, "datasets", "render"],
  [/^\/datasets\/([^/]+)$/, "dataset", "render"],
  [/^\/datasets\/([^/]+)\/versions\/([^/]+)$/, "dataset", "render"],
  [/^\/lineage$/, "lineage", "render"],
  [/^\/pipelines$/, "pipelines", "render"],
  [/^\/pipelines\/runs\/([^/]+)$/, "pipeline_run", "render"],
  [/^\/features$/, "features", "render"],
  [/^\/features\/([^/]+)\/([^/]+)$/, "features", "renderObject"],
  [/^\/automation$/, "automation", "render"],
  [/^\/automation\/policies\/([^/]+)$/, "automation", "renderPolicy"],
  [/^\/automation\/runs\/([^/]+)$/, "automation_run", "render"],
];

let current = 0; // the navigation being drawn: a slower, older one draws nothing

async function show() {
  const navigation = ++current;
  const {path, query} = here();
  const root = h("div", {class: "page"});
  document.getElementById("view").replaceChildren(root);
  showSession();
  const found = ROUTES.map((route) => [path.match(route[0]), route]).find(([m]) => m);
  if (!found) {
    notFound(root, `There is no page at ${path}.`);
    return;
  }
  const [match, [, module, name]] = found;
  try {
    const page = (await import(`./pages/${module}.js`))[name];
    if (navigation !== current) return;
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
