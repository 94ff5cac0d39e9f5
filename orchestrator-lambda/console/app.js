// The operator console: customers, products, orders with their history, and
// the create-and-confirm saga. Plain JavaScript, no build step: the server
// embeds this file as it is. Every call carries the operator's token, held
// in memory only; what the token's scopes do not allow is hidden, and the
// server's own answer (a 403, say) is shown when it refuses anyway.

const config = JSON.parse(document.getElementById("console-config").textContent || "{}");
const SAGA_PATH = "/orchestrator/create-and-confirm-order";
// Where the page is mounted: "" at the root, "/lambda-url/<name>" under
// `cargo lambda watch`, "/<stage>" behind an API Gateway stage. Every URL of
// this origin (the saga, the sign-in's return) is made from it, never from "/".
const PAGE_PATH = location.pathname.replace(/\/+$/, "");
const MOUNT = PAGE_PATH.replace(/\/console$/, "");
const PAGE_URL = `${location.origin}${PAGE_PATH}`;
const PAGE = 20;

// ---------------------------------------------------------------- helpers

/** An element: `h("a", {href: "#/x"}, "text", child)`. Text is never parsed as HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtMoney = (cents) => money.format(Number(cents) / 100);
const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" }) : "");
const newKey = () => `console-${crypto.randomUUID()}`;

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeJwt(token) {
  const part = token.split(".")[1];
  if (!part) throw new Error("this is no JWT: it has no payload");
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
}

// What each code means, in words, for the operator.
const CODES = {
  unauthorized: "Your token was refused: it is missing, expired, or not from the expected issuer. Sign in again.",
  invalid_token: "Your token was refused: it is expired or not from the expected issuer. Sign in again.",
  forbidden: "Your role does not allow this. Ask an administrator for the scope it names.",
  customer_not_found: "No active customer has this id.",
  product_not_found: "One of the products does not exist.",
  order_not_found: "No order has this id.",
  insufficient_stock: "Not enough stock for one of the lines: lower the quantity or restock first.",
  idempotency_key_reused: "This idempotency key was used for a different order. Start a new order to get a new key.",
  idempotency_key_in_progress: "The same request is still running. Wait a moment and submit again: it will replay.",
  saga_in_progress: "The same order is still being placed. Wait a moment and submit again: it will replay.",
  order_limit_exceeded: "The order is larger than one order may be (units or value).",
  confirm_failed_order_canceled: "The order could not be confirmed, so it was canceled and its stock put back.",
  confirm_rejected: "orders-api refused to confirm the order.",
  order_canceled: "The order was canceled before it could be confirmed.",
  deadline_exceeded: "The order took too long to place. Its outcome may still settle: look at the orders list.",
  downstream_timeout: "A service did not answer in time. Submitting again is safe: it replays.",
  service_unavailable: "A service is unavailable. Submitting again is safe: it replays.",
  customers_unavailable: "customers-api is unavailable. Try again shortly.",
  database_busy: "The database is busy with the same rows. Try again.",
  database_unavailable: "The database is unavailable. Try again shortly.",
  email_taken: "Another active customer has this email.",
  sku_taken: "Another product has this SKU.",
  precondition_failed: "Someone changed this since you opened it. Reload to see the current values, then edit again.",
  precondition_required: "This change needs the version you edited (an ETag). Reload and edit again.",
  cancel_window_expired: "This order was confirmed too long ago to be canceled.",
  invalid_state: "The order is not in a state that allows this.",
  validation_failed: "Some fields are not valid.",
  invalid_request: "The request is not valid.",
  stock_out_of_range: "The stock would fall below zero or above the limit.",
  payload_too_large: "The request is too large.",
};

// ---------------------------------------------------------------- session

/** The signed-in operator: the token (memory only) and what it grants. */
const session = { token: null, claims: null, scopes: new Set() };

function signIn(token) {
  const claims = decodeJwt(token.trim());
  if (claims.exp && claims.exp * 1000 < Date.now()) throw new Error("this token has expired");
  const scopes = new Set();
  for (const s of String(claims.scope || "").split(/\s+/).filter(Boolean)) scopes.add(s.split("/").pop());
  const groups = [...(claims["cognito:groups"] || []), ...(claims.groups || [])];
  for (const g of groups) for (const s of (config.roles || {})[g] || []) scopes.add(s);
  Object.assign(session, { token: token.trim(), claims, scopes, groups });
}

const can = (scope) => session.scopes.has(scope);
const who = () => session.claims?.username || session.claims?.["cognito:username"] || session.claims?.sub || "?";

function signOut() {
  Object.assign(session, { token: null, claims: null, scopes: new Set(), groups: [] });
  if (config.oidc?.logout_url) {
    const back = PAGE_URL;
    location.assign(`${config.oidc.logout_url}?client_id=${encodeURIComponent(config.oidc.client_id)}&logout_uri=${encodeURIComponent(back)}`);
    return;
  }
  if (location.hash === "#/") render();
  else location.hash = "#/";
}

// Authorization code with PKCE: the verifier and state wait in
// sessionStorage across the redirect; the token itself never is stored.
async function startOidc() {
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

async function finishOidc() {
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

// ---------------------------------------------------------------- HTTP

/** A call to one of the APIs; the answer, its headers and, for a refusal, the problem. */
async function api(base, path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${session.token}`, ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`${base}${path}`, init);
  } catch {
    return { ok: false, status: 0, problem: { title: "Network error", detail: "The service could not be reached." } };
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  const out = { ok: res.ok, status: res.status, headers: res.headers, body: json };
  if (!res.ok) out.problem = problemOf(res.status, json);
  return out;
}

/** A problem document (the APIs) or the saga's error, as one shape. */
function problemOf(status, json) {
  if (json?.error) {
    return { status, code: json.error.code, title: json.error.code, detail: json.error.message, step: json.error.step,
      retriable: json.error.retriable, correlation: json.correlationId };
  }
  return { status, code: json?.code, title: json?.title || `HTTP ${status}`, detail: json?.detail, errors: json?.errors };
}

const customersApi = (path, opts) => api(config.customers_api || MOUNT, path, opts);
const ordersApi = (path, opts) => api(config.orders_api || MOUNT, path, opts);

// ---------------------------------------------------------------- shared views

function problemBox(p) {
  return h("div", { class: "problem", role: "alert" },
    h("p", {}, h("strong", {}, `${p.status || ""} ${p.title || "Error"}`.trim()), p.code ? h("code", {}, ` ${p.code}`) : null),
    p.code && CODES[p.code] ? h("p", { class: "explain" }, CODES[p.code]) : null,
    p.detail ? h("p", {}, p.detail) : null,
    p.errors?.length ? h("ul", {}, p.errors.map((e) => h("li", {}, `${e.field}: ${e.message}`))) : null,
    p.step ? h("p", {}, `Step: ${p.step}${p.retriable ? " (safe to retry)" : ""}`) : null,
    p.correlation ? h("p", {}, "Correlation id: ", h("code", {}, p.correlation)) : null,
    p.status === 401 && session.token ? h("p", {}, h("button", { type: "button", class: "primary", onclick: signOut }, "Sign in again")) : null);
}

function notice(text) {
  const live = document.getElementById("live");
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 50);
}

/** A table; on a phone each row stacks as a card, each cell named by its column (data-label). */
function table(caption, head, rows) {
  for (const tr of rows) [...tr.children].forEach((td, i) => td.setAttribute("data-label", head[i]));
  return h("div", { class: "scroll", role: "region", "aria-label": caption, tabindex: 0 },
    h("table", {}, h("caption", {}, caption),
      h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows)));
}

function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hint) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

function pager(next, go) {
  return next ? h("p", {}, h("button", { type: "button", onclick: () => go(next) }, "Next page")) : null;
}

function lacks(scope) {
  return h("p", { class: "warn" }, `Your token does not grant ${scope}: the server will refuse this.`);
}

let generation = 0;
/**
 * How a view draws itself: only the latest navigation's view draws, so one
 * still loading (a slow list, say) never draws over the page asked for since.
 */
function claim() {
  const mine = ++generation;
  return (title, ...children) => { if (mine === generation) show(title, ...children); };
}

function show(title, ...children) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", { tabindex: -1 }, title), ...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  document.title = `${title} · Order back office`;
  main.querySelector("h1").focus();
}

// ---------------------------------------------------------------- sign in

function signInView(message) {
  const view = claim();
  const area = h("textarea", { id: "token", rows: 4, spellcheck: "false", autocomplete: "off", required: true });
  const err = h("div", { id: "signin-error" });
  if (message) err.append(problemBox({ title: message }));
  const form = h("form", {
    onsubmit: (e) => {
      e.preventDefault();
      try {
        signIn(area.value);
        render(); // the page asked for (a shared link), else the orders
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

/** A list page's search: the term and cursor of the address, the query for the API, the form. */
function searchForm(where, label, params) {
  const search = params.get("search") || "";
  const q = new URLSearchParams({ limit: PAGE });
  if (search) q.set("search", search);
  if (params.get("cursor")) q.set("cursor", params.get("cursor"));
  const input = h("input", { type: "search", name: "search", value: search });
  const form = h("form", { role: "search", onsubmit: (e) => { e.preventDefault(); go(where, { search: input.value }); } },
    field(label, input), h("button", { type: "submit" }, "Search"));
  return { search, q, form };
}

// ---------------------------------------------------------------- customers

async function customersView(params) {
  const view = claim();
  const { search, q, form } = searchForm("customers", "Search customers by name or email", params);
  const res = await customersApi(`/customers?${q}`);
  if (!res.ok) return view("Customers", form, problemBox(res.problem));
  const rows = res.body.data.map((c) => h("tr", {},
    h("td", {}, c.id), h("td", {}, c.name), h("td", {}, c.email), h("td", {}, c.phone || ""),
    h("td", {}, h("div", { class: "actions" },
      h("a", { href: `#/orders?customer=${c.id}` }, "Orders", h("span", { class: "sr" }, ` of ${c.name}`)),
      can("customers:write") ? h("a", { href: `#/customers/${c.id}` }, "Edit", h("span", { class: "sr" }, ` ${c.name}`)) : null,
      can("customers:write") ? h("button", { type: "button", class: "danger", onclick: () => deleteCustomer(c) }, "Delete", h("span", { class: "sr" }, ` ${c.name}`)) : null))));
  view("Customers",
    can("customers:write") ? h("p", {}, h("a", { class: "button", href: "#/customers/new" }, "New customer")) : null,
    form,
    rows.length ? table("Customers", ["ID", "Name", "Email", "Phone", "Actions"], rows) : h("p", {}, "No customer matches."),
    pager(res.body.next_cursor, (cursor) => go("customers", { search, cursor })));
}

async function customerForm(id) {
  const view = claim();
  let current = { name: "", email: "", phone: "" };
  if (id) {
    const res = await customersApi(`/customers/${id}`);
    if (!res.ok) return view("Edit customer", problemBox(res.problem));
    current = res.body;
  }
  const name = h("input", { name: "name", value: current.name, required: true, maxlength: 200, autocomplete: "organization" });
  const email = h("input", { name: "email", type: "email", value: current.email, required: true, autocomplete: "email" });
  const phone = h("input", { name: "phone", type: "tel", value: current.phone || "", autocomplete: "tel" });
  const out = h("div", {});
  const form = h("form", {
    onsubmit: async (e) => {
      e.preventDefault();
      const body = { name: name.value, email: email.value, phone: phone.value || null };
      const res = id ? await customersApi(`/customers/${id}`, { method: "PUT", body })
        : await customersApi("/customers", { method: "POST", body });
      if (!res.ok) return out.replaceChildren(problemBox(res.problem));
      notice(`Customer ${res.body.name} saved.`);
      go("customers", { search: res.body.email });
    },
  }, field("Name", name), field("Email", email), field("Phone (optional)", phone, "E.164, e.g. +51987654321"),
  h("button", { type: "submit", class: "primary" }, id ? "Save changes" : "Create customer"), " ",
  h("a", { href: "#/customers" }, "Cancel"));
  view(id ? `Edit customer #${id}` : "New customer", can("customers:write") ? null : lacks("customers:write"), out, form);
}

function confirmDialog(question, yes) {
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

async function deleteCustomer(c) {
  if (!(await confirmDialog(`Delete customer ${c.name} (${c.email})? Their orders stay.`, "Delete"))) return;
  const res = await customersApi(`/customers/${c.id}`, { method: "DELETE" });
  if (!res.ok) return document.getElementById("main").prepend(problemBox(res.problem));
  notice(`Customer ${c.name} deleted.`);
  render();
}

// ---------------------------------------------------------------- products

async function productsView(params) {
  const view = claim();
  const { search, q, form } = searchForm("products", "Search products by SKU or name", params);
  const res = await ordersApi(`/products?${q}`);
  if (!res.ok) return view("Products", form, problemBox(res.problem));
  const rows = res.body.data.map((p) => h("tr", {},
    h("td", {}, p.id), h("td", {}, p.sku), h("td", {}, p.name), h("td", { class: "num" }, fmtMoney(p.price_cents)),
    h("td", { class: "num" }, p.stock),
    h("td", {}, h("div", { class: "actions" }, h("a", { href: `#/products/${p.id}` }, can("catalog:write") ? "Edit" : "View", h("span", { class: "sr" }, ` ${p.name}`))))));
  view("Products", form,
    rows.length ? table("Products", ["ID", "SKU", "Name", "Price", "Stock", "Actions"], rows) : h("p", {}, "No product matches."),
    pager(res.body.next_cursor, (cursor) => go("products", { search, cursor })));
}

async function productForm(id) {
  const view = claim();
  const res = await ordersApi(`/products/${id}`);
  if (!res.ok) return view("Product", problemBox(res.problem));
  const p = res.body;
  const etag = res.headers.get("ETag");
  const price = h("input", { name: "price", type: "number", min: "0.01", step: "0.01", value: (p.price_cents / 100).toFixed(2), required: true, inputmode: "decimal" });
  const stock = h("input", { name: "stock", type: "number", min: 0, step: 1, value: p.stock, required: true, inputmode: "numeric" });
  const out = h("div", {});
  const form = h("form", {
    onsubmit: async (e) => {
      e.preventDefault();
      const body = {};
      const cents = Math.round(Number(price.value) * 100);
      if (cents !== p.price_cents) body.price_cents = cents;
      if (Number(stock.value) !== p.stock) body.stock = Number(stock.value);
      if (!Object.keys(body).length) return out.replaceChildren(h("p", { role: "status" }, "Nothing changed."));
      const saved = await ordersApi(`/products/${id}`, { method: "PATCH", body, headers: etag ? { "If-Match": etag } : {} });
      if (saved.ok) {
        notice(`Product ${p.sku} saved: ${fmtMoney(saved.body.price_cents)}, ${saved.body.stock} in stock.`);
        return productForm(id);
      }
      out.replaceChildren(problemBox(saved.problem));
      if (saved.status === 412) {
        out.append(h("p", {}, h("button", { type: "button", class: "primary", onclick: () => productForm(id) }, "Reload the product")));
      }
    },
  }, field("Price", price), field("Stock (units on hand)", stock, `Version ${etag || "unknown"}: a concurrent change makes this save fail rather than overwrite it.`),
  h("button", { type: "submit", class: "primary" }, "Save product"), " ", h("a", { href: "#/products" }, "Back to products"));
  view(`${p.name} (${p.sku})`, can("catalog:write") ? null : lacks("catalog:write"),
    h("p", {}, `Product #${p.id}. Updated ${fmtTime(p.updated_at)}.`), out, form);
}

// ---------------------------------------------------------------- orders

const STATUSES = ["CREATED", "CONFIRMED", "CANCELED"];

async function ordersView(params) {
  const view = claim();
  const status = params.get("status") || "";
  const customer = params.get("customer") || "";
  const q = new URLSearchParams({ limit: PAGE });
  if (status) q.set("status", status);
  if (customer) q.set("customer_id", customer);
  if (params.get("cursor")) q.set("cursor", params.get("cursor"));
  const sel = h("select", { name: "status" }, h("option", { value: "" }, "Any"),
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)));
  const cust = h("input", { name: "customer", type: "number", min: 1, value: customer, inputmode: "numeric" });
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); go("orders", { status: sel.value, customer: cust.value }); } },
    field("Status", sel), field("Customer id", cust), h("button", { type: "submit" }, "Filter"));
  const res = await ordersApi(`/orders?${q}`);
  if (!res.ok) return view("Orders", form, problemBox(res.problem));
  const rows = res.body.data.map((o) => h("tr", {},
    h("td", {}, h("a", { href: `#/orders/${o.id}` }, `#${o.id}`)), h("td", {}, o.customer_id),
    h("td", {}, h("span", { class: `status ${o.status.toLowerCase()}` }, o.status)), h("td", { class: "num" }, fmtMoney(o.total_cents)),
    h("td", {}, fmtTime(o.created_at)), h("td", {}, o.created_by)));
  view("Orders",
    can("orders:write") ? h("p", {}, h("a", { class: "button", href: "#/new-order" }, "New order")) : null,
    form,
    rows.length ? table("Orders, newest first", ["Order", "Customer", "Status", "Total", "Created", "By"], rows) : h("p", {}, "No order matches."),
    pager(res.body.next_cursor, (cursor) => go("orders", { status, customer, cursor })));
}

const products = new Map();
async function productName(id) {
  if (!products.has(id)) {
    const res = await ordersApi(`/products/${id}`);
    products.set(id, res.ok ? `${res.body.name} (${res.body.sku})` : `Product #${id}`);
  }
  return products.get(id);
}

async function orderView(id) {
  const view = claim();
  const [res, events] = await Promise.all([ordersApi(`/orders/${id}`), ordersApi(`/orders/${id}/events?limit=100`)]);
  if (!res.ok) return view(`Order #${id}`, problemBox(res.problem));
  const o = res.body;
  const names = await Promise.all(o.items.map((i) => (can("catalog:read") ? productName(i.product_id) : `Product #${i.product_id}`)));
  const items = o.items.map((i, n) => h("tr", {}, h("td", {}, names[n]), h("td", { class: "num" }, i.qty),
    h("td", { class: "num" }, fmtMoney(i.unit_price_cents)), h("td", { class: "num" }, fmtMoney(i.subtotal_cents))));
  const out = h("div", {});
  const cancellable = o.status !== "CANCELED";
  const cancel = cancellable && can("orders:cancel") ? h("button", {
    type: "button", class: "danger",
    onclick: async () => {
      if (!(await confirmDialog(`Cancel order #${o.id}? Its stock goes back on the shelf.`, "Cancel the order"))) return;
      const done = await ordersApi(`/orders/${o.id}/cancel`, { method: "POST", headers: { "Idempotency-Key": newKey() } });
      if (!done.ok) return out.replaceChildren(problemBox(done.problem));
      notice(`Order #${o.id} canceled.`);
      orderView(id);
    },
  }, "Cancel order") : null;
  view(`Order #${o.id}`,
    h("dl", { class: "facts" },
      h("dt", {}, "Status"), h("dd", {}, h("span", { class: `status ${o.status.toLowerCase()}` }, o.status)),
      h("dt", {}, "Customer"), h("dd", {}, h("a", { href: `#/orders?customer=${o.customer_id}` }, `#${o.customer_id}`)),
      h("dt", {}, "Total"), h("dd", {}, fmtMoney(o.total_cents)),
      h("dt", {}, "Placed by"), h("dd", {}, o.created_by),
      h("dt", {}, "Created"), h("dd", {}, fmtTime(o.created_at))),
    out, cancel,
    table("Items", ["Product", "Qty", "Unit price", "Subtotal"], items),
    h("h2", {}, "Timeline"),
    events.ok ? timeline(events.body.data) : problemBox(events.problem));
}

function timeline(events) {
  if (!events.length) return h("p", {}, "No recorded events.");
  return h("ol", { class: "timeline", "aria-label": "What happened to this order, oldest first" },
    events.map((e) => h("li", {},
      h("p", {}, h("strong", {}, e.type.replace(/^order\./, "")), " · ", h("time", { datetime: e.at }, fmtTime(e.at)), " · by ", h("span", { class: "actor" }, e.actor)),
      h("p", { class: "meta" },
        e.correlation_id ? ["Correlation id ", h("code", {}, e.correlation_id)] : null,
        e.idempotency_key ? [" · Idempotency key ", h("code", {}, e.idempotency_key)] : null))));
}

// ---------------------------------------------------------------- the saga

const draft = { key: newKey(), customer: "", find: "", lines: [{ product: "", qty: 1 }], result: null };

// The form keeps its state in `draft` across a re-render: after each answer
// the view is drawn again, so the stock shown is the stock now.
async function sagaView(focus) {
  const view = claim();
  const q = new URLSearchParams({ limit: 100 });
  if (draft.find) q.set("search", draft.find);
  const [cs, ps] = await Promise.all([customersApi(`/customers?${q}`), ordersApi("/products?limit=100")]);
  if (!cs.ok || !ps.ok) return view("New order", problemBox((cs.ok ? ps : cs).problem));
  const catalog = new Map(ps.body.data.map((p) => [String(p.id), p]));
  const customer = h("select", { name: "customer", required: true, onchange: (e) => { draft.customer = e.target.value; } },
    h("option", { value: "" }, "Choose a customer"),
    cs.body.data.map((c) => h("option", { value: c.id, selected: String(c.id) === draft.customer }, `${c.name} · ${c.email} (#${c.id})`)));
  const find = h("input", { type: "search", name: "find", value: draft.find });
  const finder = h("div", { class: "row finder" }, field("Find a customer by name or email", find),
    h("button", { type: "button", onclick: () => { draft.find = find.value; draft.customer = ""; sagaView("customer"); } }, "Find"));
  const lines = h("fieldset", {}, h("legend", {}, "Lines"));
  const total = h("p", { class: "total", "aria-live": "polite" });
  const showTotal = () => {
    const sum = draft.lines.reduce((acc, l) => acc + (catalog.get(l.product)?.price_cents || 0) * (Number(l.qty) || 0), 0);
    total.textContent = `Estimated total: ${fmtMoney(sum)}`;
  };
  const drawLines = () => {
    lines.replaceChildren(h("legend", {}, "Lines"), ...draft.lines.map((l, n) => {
      const pick = h("select", { name: `product-${n}`, required: true, onchange: (e) => { l.product = e.target.value; showTotal(); } },
        h("option", { value: "" }, "Choose a product"),
        ps.body.data.map((p) => h("option", { value: p.id, selected: String(p.id) === l.product, disabled: p.stock === 0 },
          `${p.name} (${p.sku}) · ${fmtMoney(p.price_cents)} · ${p.stock} in stock`)));
      const qty = h("input", { name: `qty-${n}`, type: "number", min: 1, step: 1, value: l.qty, required: true, inputmode: "numeric",
        oninput: (e) => { l.qty = e.target.value; showTotal(); } });
      return h("div", { class: "line" }, field(`Product, line ${n + 1}`, pick), field(`Quantity, line ${n + 1}`, qty),
        draft.lines.length > 1 ? h("button", { type: "button", onclick: () => { draft.lines.splice(n, 1); drawLines(); } }, `Remove line ${n + 1}`) : null);
    }), h("button", { type: "button", onclick: () => { draft.lines.push({ product: "", qty: 1 }); drawLines(); } }, "Add a line"));
    showTotal();
  };
  drawLines();
  const key = h("input", { name: "key", value: draft.key, readonly: true });
  const out = h("div", { id: "saga-result" });
  if (draft.result) out.append(draft.result);
  const submit = h("button", { type: "submit", class: "primary" }, "Place and confirm the order");
  const form = h("form", {
    onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      out.replaceChildren(h("p", { role: "status" }, "Placing the order..."));
      const body = { customer_id: Number(draft.customer), idempotency_key: draft.key,
        items: draft.lines.map((l) => ({ product_id: Number(l.product), qty: Number(l.qty) })) };
      const res = await api(MOUNT, SAGA_PATH, { method: "POST", body });
      submit.disabled = false;
      draft.result = sagaResult(res);
      await sagaView("result");
    },
  }, finder, field("Customer", customer), lines, total,
  field("Idempotency key", key, "Sent with the order: submitting the same form again replays the answer instead of ordering twice."),
  h("div", { class: "row" }, submit,
    h("button", { type: "button", onclick: () => { Object.assign(draft, { key: newKey(), customer: "", find: "", lines: [{ product: "", qty: 1 }], result: null }); sagaView(); } }, "Start a new order")));
  view("New order", can("orders:write") ? null : lacks("orders:write"), form, out);
  if (focus === "result") out.querySelector("[tabindex='-1']")?.focus();
  if (focus === "customer") customer.focus();
}

function sagaResult(res) {
  if (!res.ok) return h("div", { tabindex: -1 }, h("h2", {}, "The order was not placed"), problemBox(res.problem));
  const o = res.body.data.order;
  const replay = res.headers.get("Idempotent-Replayed") === "true";
  return h("div", { class: replay ? "replay" : "success", tabindex: -1, role: "status" },
    h("h2", {}, replay ? `Replayed: order #${o.id} was already placed with this key` : `201 Created: order #${o.id} confirmed`),
    replay ? h("p", {}, "Nothing new was ordered: this key already placed the order below. Start a new order for another one.") : null,
    h("p", {}, `${res.body.data.customer.name}: ${o.items.length} line(s), total ${fmtMoney(o.total_cents)}, ${o.status}.`),
    h("p", {}, "Correlation id: ", h("code", {}, res.body.correlationId)),
    h("p", {}, h("a", { href: `#/orders/${o.id}` }, `See order #${o.id} and its timeline`)));
}

// ---------------------------------------------------------------- routing

function go(where, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== undefined && v !== null));
  location.hash = `#/${where}${[...q].length ? `?${q}` : ""}`;
}

function header() {
  const nav = [["#/customers", "Customers", "customers:read"], ["#/products", "Products", "catalog:read"],
    ["#/orders", "Orders", "orders:read"], ["#/new-order", "New order", "orders:write"]];
  const here = location.hash.split("?")[0];
  const bar = document.getElementById("account");
  if (!session.token) {
    document.getElementById("nav").replaceChildren();
    bar.replaceChildren();
    return;
  }
  document.getElementById("nav").replaceChildren(...nav.filter(([, , s]) => can(s)).map(([href, label]) =>
    h("a", { href, "aria-current": here.startsWith(href) ? "page" : false }, label)));
  const roles = session.groups?.length ? session.groups.join(", ") : [...session.scopes].join(" ") || "no scope";
  bar.replaceChildren(h("span", {}, "Signed in as ", h("strong", { id: "whoami" }, who()), ` · ${roles}`),
    h("button", { type: "button", onclick: signOut }, "Sign out"));
}

async function render() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  header();
  if (!session.token) return signInView();
  const parts = (path || "/").split("/").filter(Boolean);
  const [what, id] = parts;
  if (what === "customers" && id === "new") return customerForm(null);
  if (what === "customers" && id) return customerForm(id);
  if (what === "customers") return customersView(params);
  if (what === "products" && id) return productForm(id);
  if (what === "products") return productsView(params);
  if (what === "orders" && id) return orderView(id);
  if (what === "new-order") return sagaView();
  return ordersView(params);
}

window.addEventListener("hashchange", render);
finishOidc().then((message) => (message ? (header(), signInView(message)) : render()))
  .catch((e) => signInView(`Sign-in failed: ${e.message}`));
