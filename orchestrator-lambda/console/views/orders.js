// @ts-check
// Orders: the list with its filters, and an order with its items, its
// timeline and its cancel.

import { ordersApi } from "../api.js";
import { PAGE, can, go } from "../state.js";
import { claim, confirmDialog, field, notice, pager, problemBox, table } from "../ui.js";
import { fmtMoney, fmtTime, h, newKey } from "../util.js";

const STATUSES = ["CREATED", "CONFIRMED", "CANCELED"];

export async function ordersView(params) {
  const view = claim();
  const status = params.get("status") || "";
  const customer = params.get("customer") || "";
  const q = new URLSearchParams({ limit: String(PAGE) });
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

export async function orderView(id) {
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
