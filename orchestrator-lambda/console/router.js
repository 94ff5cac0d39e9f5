// @ts-check
// The router: the address's hash picks the view; the header shows who is
// signed in and what they may open. The console starts here.

import { PAGE_URL, can, config, events, session, who } from "./state.js";
import { h } from "./util.js";
import { customerForm, customersView } from "./views/customers.js";
import { orderView, ordersView } from "./views/orders.js";
import { productForm, productsView } from "./views/products.js";
import { sagaView } from "./views/saga.js";
import { finishOidc, signInView } from "./views/signin.js";

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

events.addEventListener("render", () => render());
events.addEventListener("sign-out", () => signOut());
window.addEventListener("hashchange", render);
finishOidc().then((message) => (message ? (header(), signInView(message)) : render()))
  .catch((e) => signInView(`Sign-in failed: ${e.message}`));
