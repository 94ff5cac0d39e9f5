// @ts-check
// Products: the list with its search, and a product's price and stock,
// saved with the ETag it was read with.

import { ordersApi } from "../api.js";
import { can, go } from "../state.js";
import { claim, field, lacks, notice, pager, problemBox, searchForm, table } from "../ui.js";
import { fmtMoney, fmtTime, h } from "../util.js";

export async function productsView(params) {
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

export async function productForm(id) {
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
