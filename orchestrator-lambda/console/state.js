// @ts-check
// The console's state: its settings from the page, where it is mounted, the
// signed-in operator, and the events the router listens to.

import { decodeJwt } from "./util.js";

export const config = JSON.parse(document.getElementById("console-config").textContent || "{}");
export const SAGA_PATH = "/orchestrator/create-and-confirm-order";
// Where the page is mounted: "" at the root, "/lambda-url/<name>" under
// `cargo lambda watch`, "/<stage>" behind an API Gateway stage. Every URL of
// this origin (the saga, the sign-in's return) is made from it, never from "/".
export const PAGE_PATH = location.pathname.replace(/\/+$/, "");
export const MOUNT = PAGE_PATH.replace(/\/console$/, "");
export const PAGE_URL = `${location.origin}${PAGE_PATH}`;
export const PAGE = 20;

/** The signed-in operator: the token (memory only) and what it grants. */
export const session = { token: null, claims: null, scopes: new Set() };

export function signIn(token) {
  const claims = decodeJwt(token.trim());
  if (claims.exp && claims.exp * 1000 < Date.now()) throw new Error("this token has expired");
  const scopes = new Set();
  for (const s of String(claims.scope || "").split(/\s+/).filter(Boolean)) scopes.add(s.split("/").pop());
  const groups = [...(claims["cognito:groups"] || []), ...(claims.groups || [])];
  for (const g of groups) for (const s of (config.roles || {})[g] || []) scopes.add(s);
  Object.assign(session, { token: token.trim(), claims, scopes, groups });
}

export const can = (scope) => session.scopes.has(scope);
export const who = () => session.claims?.username || session.claims?.["cognito:username"] || session.claims?.sub || "?";

/** What the router listens to: a view asks for the page to be drawn again, or for the operator to be signed out. */
export const events = new EventTarget();
export const rerender = () => events.dispatchEvent(new Event("render"));
export const requestSignOut = () => events.dispatchEvent(new Event("sign-out"));

/** Goes to `#/where?params` (empty params left out). */
export function go(where, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== undefined && v !== null));
  location.hash = `#/${where}${[...q].length ? `?${q}` : ""}`;
}
