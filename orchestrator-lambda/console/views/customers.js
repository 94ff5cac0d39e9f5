// @ts-check
// Customers: the list with its search, and the form to create or edit one.

import { customersApi } from "../api.js";
import { can, go, rerender } from "../state.js";
import { claim, confirmDialog, field, lacks, notice, pager, problemBox, searchForm, table } from "../ui.js";
import { h } from "../util.js";

export async function customersView(params) {
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

export async function customerForm(id) {
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

async function deleteCustomer(c) {
  if (!(await confirmDialog(`Delete customer ${c.name} (${c.email})? Their orders stay.`, "Delete"))) return;
  const res = await customersApi(`/customers/${c.id}`, { method: "DELETE" });
  if (!res.ok) return document.getElementById("main").prepend(problemBox(res.problem));
  notice(`Customer ${c.name} deleted.`);
  rerender();
}
