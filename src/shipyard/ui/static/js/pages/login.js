// Signing in: a user name and password (POST /login/password starts a session), or
// single sign-on when the server has it configured.

import {ApiError, postJson} from "../api.js";
import {fill, h} from "../dom.js";
import {go} from "../nav.js";

export async function render(root, {query}) {
  document.title = "Sign in · Shipyard";
  const next = safeNext(query.get("next"));
  const offers = document.body.dataset;
  const error = h("p", {class: "error", id: "login-error", role: "alert"});
  const user = h("input", {name: "username", autocomplete: "username", required: true, id: "username"});
  const password = h("input", {name: "password", type: "password", autocomplete: "current-password", required: true,
    id: "password"});
  const form = h("form", {class: "login", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const who = await postJson("/login/password", {username: user.value, password: password.value});
      sessionStorage.setItem("shipyard.user", `${who.name} (${who.role})`);
      go(next);
    } catch (failed) {
      if (!(failed instanceof ApiError)) throw failed;
      error.textContent = failed.message;
      password.select();
    }
  }},
  h("label", {for: "username"}, "User name"), user,
  h("label", {for: "password"}, "Password"), password,
  h("button", {type: "submit"}, "Sign in"));

  fill(root, h("section", {class: "sign-in"},
    h("h1", {}, "Sign in"),
    offers.passwordLogin === "true" ? [form, error]
      : h("p", {class: "muted"}, "Password sign-in needs the sso extra on the server: pip install 'shipyard[sso]'."),
    offers.sso === "true"
      ? h("p", {}, h("a", {class: "button", id: "sso", href: `/login?${new URLSearchParams({next: `/#${next}`})}`}, "Sign in with SSO"))
      : null));
  user.focus();
}

/** A path of this UI to return to (never another site, never the sign-in form itself). */
function safeNext(next) {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/";
}
