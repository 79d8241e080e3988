// Where the UI is: the location's hash holds the view and its state (#/runs/<id>, #/compare?runs=a,b).

/** The hash as {path, query}: "#/compare?runs=a,b" → {path: "/compare", query: URLSearchParams}. */
export function here() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?", 2);
  return {path, query: new URLSearchParams(search)};
}

/** Go to `path` with `query`; `replace` keeps the history entry (a page's own state, such as a filter). */
export function go(path, query = {}, {replace = false} = {}) {
  const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v !== null && v !== undefined));
  const hash = `#${path}${search.size ? `?${search}` : ""}`;
  if (replace) {
    history.replaceState(null, "", hash);
  } else {
    location.hash = hash;
  }
}
