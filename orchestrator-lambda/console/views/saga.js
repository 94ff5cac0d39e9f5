// @ts-check
// New order: the saga's form (a customer, lines with live price and stock,
// the idempotency key it sends) and its answer.

import { customersApi, ordersApi, sagaApi } from "../api.js";
import { PAGE, can } from "../state.js";
import { claim, field, lacks, problemBox } from "../ui.js";
import { fmtMoney, h, newKey } from "../util.js";

const fresh = () => ({ key: newKey(), customer: "", find: "", lines: [{ product: "", qty: 1 }], result: null,
  pages: { customers: 1, products: 1 } });
const draft = fresh();

/**
 * The first `pages` pages (PAGE items each) of the list at `path` (which
 * may carry a query), and whether more follow: the pickers load a page at
 * a time, never the whole list.
 * @param {(path: string) => Promise<any>} call
 * @param {string} path
 * @param {number} pages
 */
async function firstPages(call, path, pages) {
  const data = [];
  let cursor = "";
  for (let n = 0; n < pages; n++) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) q.set("cursor", cursor);
    const res = await call(`${path}${path.includes("?") ? "&" : "?"}${q}`);
    if (!res.ok) return res;
    data.push(...res.body.data);
    cursor = res.body.next_cursor;
    if (!cursor) return { ok: true, body: { data, more: false } };
  }
  return { ok: true, body: { data, more: true } };
}

// The form keeps its state in `draft` across a re-render: after each answer
// the view is drawn again, so the stock shown is the stock now.
export async function sagaView(focus) {
  const view = claim();
  const search = draft.find ? `/customers?${new URLSearchParams({ search: draft.find })}` : "/customers";
  const [cs, ps] = await Promise.all([firstPages(customersApi, search, draft.pages.customers),
    firstPages(ordersApi, "/products", draft.pages.products)]);
  if (!cs.ok || !ps.ok) return view("New order", problemBox((cs.ok ? ps : cs).problem));
  const catalog = new Map(ps.body.data.map((p) => [String(p.id), p]));
  const customer = h("select", { name: "customer", required: true, onchange: (e) => { draft.customer = e.target.value; } },
    h("option", { value: "" }, "Choose a customer"),
    cs.body.data.map((c) => h("option", { value: c.id, selected: String(c.id) === draft.customer }, `${c.name} · ${c.email} (#${c.id})`)));
  const find = h("input", { type: "search", name: "find", value: draft.find });
  const more = (what, label) => h("button", { type: "button", onclick: () => { draft.pages[what] += 1; sagaView(what); } }, label);
  const finder = h("div", { class: "row finder" }, field("Find a customer by name or email", find),
    h("button", { type: "button", onclick: () => { draft.find = find.value; draft.customer = ""; draft.pages.customers = 1; sagaView("customer"); } }, "Find"),
    cs.body.more ? more("customers", "More customers") : null);
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
    }), h("div", { class: "row" },
      h("button", { type: "button", onclick: () => { draft.lines.push({ product: "", qty: 1 }); drawLines(); } }, "Add a line"),
      ps.body.more ? more("products", "More products") : null));
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
      const res = await sagaApi(body);
      submit.disabled = false;
      draft.result = sagaResult(res);
      await sagaView("result");
    },
  }, finder, field("Customer", customer), lines, total,
  field("Idempotency key", key, "Sent with the order: submitting the same form again replays the answer instead of ordering twice."),
  h("div", { class: "row" }, submit,
    h("button", { type: "button", onclick: () => { Object.assign(draft, fresh()); sagaView(); } }, "Start a new order")));
  view("New order", can("orders:write") ? null : lacks("orders:write"), form, out);
  if (focus === "result") out.querySelector("[tabindex='-1']")?.focus();
  if (focus === "customer" || focus === "customers") customer.focus();
  if (focus === "products") /** @type {HTMLElement | null} */ (lines.querySelector("select:last-of-type"))?.focus();
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
