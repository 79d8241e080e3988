// The REST API under /api/v1, as the signed-in browser: the session cookie goes with
// every call, and each change repeats the session's CSRF token in X-CSRF-Token.

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** An answer other than 2xx: status, and the API's {"error": {code, message, field}}. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `the server answered ${status}`);
    this.status = status;
    this.code = error.code || "";
    this.field = error.field || null;
    this.report = error.report || null; // a refused promotion: every gate check and its outcome
  }

  get notFound() {
    // An id of the wrong shape names nothing either.
    return this.status === 404 || (this.status === 422 && ["run_id", "experiment_id"].includes(this.field));
  }
}

/** 401: the page shows the sign-in form. */
export class SignInNeeded extends ApiError {}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** Whether this browser holds a session (its CSRF cookie is readable, the session cookie is not). */
export function signedIn() {
  return cookie("shipyard_csrf") !== null;
}

/** The signed-in user's role as the sign-in form or /api/v1/me told it ("viewer", "approver", …); null when
 * this tab does not know it (a session started elsewhere, a server running open). It only decides
 * which controls are offered: the API checks every call either way. */
export function role() {
  const found = (sessionStorage.getItem("shipyard.user") || "").match(/\((\w+)\)$/);
  return found ? found[1] : null;
}

async function errorOf(response) {
  let error = {};
  try {
    const body = await response.json();
    error = body.error || {code: body.error_code, message: body.message || body.detail};
  } catch {
    error = {message: `the server answered ${response.status} ${response.statusText}`};
  }
  return new (response.status === 401 ? SignInNeeded : ApiError)(response.status, error);
}

/** fetch() with the session's CSRF token on changes; throws ApiError for any non-2xx answer. */
export async function call(method, path, {json, query, signal} = {}) {
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  const headers = {Accept: "application/json"};
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const csrf = cookie("shipyard_csrf");
  if (!SAFE.has(method) && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(url, {
    method, headers, signal, credentials: "same-origin",
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJson(path, query) {
  return (await call("GET", path, {query})).json();
}

export async function postJson(path, json) {
  const response = await call("POST", path, {json});
  return response.status === 204 ? null : response.json();
}

/** Every item of a paged list, following next_page_token, at most `limit` items. */
export async function allPages(path, query = {}, limit = 10000) {
  const items = [];
  let token = null;
  do {
    const page = await getJson(path, token ? {...query, page_token: token} : query);
    items.push(...page.items);
    token = page.next_page_token;
  } while (token && items.length < limit);
  return items;
}

/**
 * Requests of which only the newest answer counts. Each call of the returned function
 * marks a new request and gives its check: true while no request was made since, so a
 * slow answer to an earlier one is dropped rather than drawn over the one asked for since.
 *
 *   const ask = newestOnly();
 *   async function load() { const current = ask(); const page = await getJson(...); if (current()) draw(page); }
 */
export function newestOnly() {
  let asked = 0;
  return () => {
    const mine = ++asked;
    return () => mine === asked;
  };
}

export const runUrl = (runId) => `/api/v1/runs/${encodeURIComponent(runId)}`;

export function artifactUrl(runId, path) {
  return `${runUrl(runId)}/artifacts/${path.split("/").map(encodeURIComponent).join("/")}`;
}

/** The first `limit` bytes of a download, and whether there was more. */
export async function head(url, limit) {
  const response = await call("GET", url);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0, truncated = false;
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size > limit) { truncated = true; await reader.cancel(); break; }
  }
  const bytes = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, Math.min(chunk.length, bytes.length - offset));
    bytes.set(part, offset);
    offset += part.length;
  }
  return {bytes, truncated};
}

// A page of twenty charts would otherwise ask for twenty histories at once: the server
// answers them all together, so the first chart waits for the last one's work. Two at a
// time, in the order the charts stand on the page, draws the top charts first; measured
// against the benchmark's store, twenty 10-run histories took 0.9-1.1 s in all one or two
// at a time and 1.4-1.5 s four at a time (each request 4x slower: the server's threads
// contend), so more in flight only costs.
const HISTORY_READS = 2;
let historyReads = 0;
const waitingReads = [];

/** `read()` once fewer than HISTORY_READS metric histories are being fetched; its answer. */
export async function queuedRead(read) {
  if (historyReads < HISTORY_READS) historyReads += 1;
  else await new Promise((resolve) => waitingReads.push(resolve)); // a finishing read hands its slot over
  try {
    return await read();
  } finally {
    const next = waitingReads.shift();
    if (next) next(); else historyReads -= 1;
  }
}

/** The metric's points, downsampled by the server to about `maxPoints`. */
export async function metricHistory(runId, key, maxPoints) {
  const page = await queuedRead(() => getJson(`${runUrl(runId)}/metric-history`,
    {key, max_points: Math.max(2, Math.round(maxPoints))}));
  return page.items;
}
