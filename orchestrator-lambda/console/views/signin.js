// @ts-check
// Signing in: a pasted token, or the organisation's OIDC provider
// (authorization code with PKCE).

import { PAGE_PATH, PAGE_URL, config, rerender, signIn } from "../state.js";
import { claim, field, problemBox } from "../ui.js";
import { b64url, h } from "../util.js";

export function signInView(message) {
  const view = claim();
  const area = h("textarea", { id: "token", rows: 4, spellcheck: "false", autocomplete: "off", required: true });
  const err = h("div", { id: "signin-error" });
  if (message) err.append(problemBox({ title: message }));
  const form = h("form", {
    onsubmit: (e) => {
      e.preventDefault();
      try {
        signIn(area.value);
        rerender(); // the page asked for (a shared link), else the orders
      } catch (x) {
        err.replaceChildren(problemBox({ title: "Not a usable token", detail: x.message }));
      }
    },
  }, field("Access token", area, "Locally: the output of make -s token. The token stays in this tab's memory only."),
  h("button", { type: "submit" }, "Sign in with this token"));
  view("Sign in",
    config.oidc ? h("p", {}, h("button", { type: "button", class: "primary", onclick: startOidc }, "Sign in with your organisation's account")) : null,
    config.oidc ? h("p", {}, "Or paste an access token:") : null,
    err, form);
}

// Authorization code with PKCE: the verifier and state wait in
// sessionStorage across the redirect; the token itself never is stored.
export async function startOidc() {
  const o = config.oidc;
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("pkce", JSON.stringify({ verifier, state, back: location.hash }));
  const q = new URLSearchParams({
    response_type: "code", client_id: o.client_id, redirect_uri: PAGE_URL,
    scope: o.scopes, state, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(`${o.authorize_url}?${q}`);
}

export async function finishOidc() {
  const q = new URLSearchParams(location.search);
  if (!q.has("code") && !q.has("error")) return null;
  const saved = JSON.parse(sessionStorage.getItem("pkce") || "null");
  sessionStorage.removeItem("pkce");
  history.replaceState(null, "", `${PAGE_PATH}${saved?.back || ""}`);
  if (q.has("error")) return `Sign-in failed: ${q.get("error_description") || q.get("error")}`;
  if (!saved || saved.state !== q.get("state")) return "Sign-in failed: the answer does not match the request. Try again.";
  const res = await fetch(config.oidc.token_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: config.oidc.client_id, code: q.get("code"),
      redirect_uri: PAGE_URL, code_verifier: saved.verifier,
    }),
  });
  if (!res.ok) return `Sign-in failed: the token endpoint answered ${res.status}.`;
  const body = await res.json();
  signIn(body.access_token);
  return null;
}
