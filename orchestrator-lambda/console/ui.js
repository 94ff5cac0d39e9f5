// @ts-check
// What every view draws with: problems, notices, tables, fields, pagers,
// searches, dialogs, and the one page that shows at a time.

import { CODES } from "./codes.js";
import { PAGE, go, requestSignOut, session } from "./state.js";
import { h } from "./util.js";

export function problemBox(p) {
  return h("div", { class: "problem", role: "alert" },
    h("p", {}, h("strong", {}, `${p.status || ""} ${p.title || "Error"}`.trim()), p.code ? h("code", {}, ` ${p.code}`) : null),
    p.code && CODES[p.code] ? h("p", { class: "explain" }, CODES[p.code]) : null,
    p.detail ? h("p", {}, p.detail) : null,
    p.errors?.length ? h("ul", {}, p.errors.map((e) => h("li", {}, `${e.field}: ${e.message}`))) : null,
    p.step ? h("p", {}, `Step: ${p.step}${p.retriable ? " (safe to retry)" : ""}`) : null,
    p.correlation ? h("p", {}, "Correlation id: ", h("code", {}, p.correlation)) : null,
    p.status === 401 && session.token ? h("p", {}, h("button", { type: "button", class: "primary", onclick: requestSignOut }, "Sign in again")) : null);
}

export function notice(text) {
  const live = document.getElementById("live");
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 50);
}

/** A table; on a phone each row stacks as a card, each cell named by its column (data-label). */
export function table(caption, head, rows) {
  for (const tr of rows) [...tr.children].forEach((td, i) => td.setAttribute("data-label", head[i]));
  return h("div", { class: "scroll", role: "region", "aria-label": caption, tabindex: 0 },
    h("table", {}, h("caption", {}, caption),
      h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows)));
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hint) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

export function pager(next, go) {
  return next ? h("p", {}, h("button", { type: "button", onclick: () => go(next) }, "Next page")) : null;
}

export function lacks(scope) {
  return h("p", { class: "warn" }, `Your token does not grant ${scope}: the server will refuse this.`);
}

let generation = 0;
/**
 * How a view draws itself: only the latest navigation's view draws, so one
 * still loading (a slow list, say) never draws over the page asked for since.
 */
export function claim() {
  const mine = ++generation;
  return (title, ...children) => { if (mine === generation) show(title, ...children); };
}

export function show(title, ...children) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", { tabindex: -1 }, title), ...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  document.title = `${title} · Order back office`;
  main.querySelector("h1").focus();
}

export function searchForm(where, label, params) {
  const search = params.get("search") || "";
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (search) q.set("search", search);
  if (params.get("cursor")) q.set("cursor", params.get("cursor"));
  const input = h("input", { type: "search", name: "search", value: search });
  const form = h("form", { role: "search", onsubmit: (e) => { e.preventDefault(); go(where, { search: input.value }); } },
    field(label, input), h("button", { type: "submit" }, "Search"));
  return { search, q, form };
}

export function confirmDialog(question, yes) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { "aria-labelledby": "dialog-q" },
      h("p", { id: "dialog-q" }, question),
      h("div", { class: "row" },
        h("button", { type: "button", class: "danger", onclick: () => { dialog.close(); resolve(true); } }, yes),
        h("button", { type: "button", onclick: () => { dialog.close(); resolve(false); } }, "Keep it")));
    dialog.addEventListener("close", () => { dialog.remove(); resolve(false); });
    document.body.append(dialog);
    dialog.showModal();
  });
}
