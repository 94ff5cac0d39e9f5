// The console in a real browser (Debian's Chromium, driven by
// playwright-core) against the real stack that scripts/console-test.sh
// starts: each scenario signs in with a token, works the pages as an
// operator would, and runs axe-core inside every page it passes through
// (WCAG 2.x A and AA: zero violations). CONSOLE_SHOTS, when set, is where
// each page's screenshot (desktop 1440 px and phone 360 px) is written.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdirSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const URL_ = must("CONSOLE_URL");
const ORIGIN = new URL(URL_).origin;
// The page's own address: under `cargo lambda watch` the function is mounted
// at /lambda-url/orchestrator-lambda/, so the console is not at the root.
const PAGE_URL = `${ORIGIN}${new URL(URL_).pathname}`;
const ADMIN = must("ADMIN_TOKEN");
const VIEWER = must("VIEWER_TOKEN");
const OPERATOR = must("OPERATOR_TOKEN");
const SHOTS = process.env.CONSOLE_SHOTS || "";
const OIDC_PORT = Number(must("OIDC_PORT"));
const OIDC_TOKEN = must("OIDC_TOKEN");
const FIRST_VIEW_BUDGET = 150 * 1024;

function must(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run make console-test`);
  return v;
}

// A stand-in OIDC provider (labelled as such: Cognito cannot run here),
// strict where the console must be right: the authorization code flow with
// PKCE (S256), one use per code, the registered client and redirect only.
const oidc = { codes: new Map(), exchanged: 0, refused: [], loggedOut: 0 };
const b64url = (buf) => buf.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
function standInProvider(req, res) {
  const url = new URL(req.url, `http://127.0.0.1:${OIDC_PORT}`);
  const redirect = PAGE_URL;
  if (url.pathname === "/oauth2/authorize") {
    const q = url.searchParams;
    const ok = q.get("response_type") === "code" && q.get("client_id") === "console-test-client"
      && q.get("redirect_uri") === redirect && q.get("code_challenge_method") === "S256"
      && /^[A-Za-z0-9_-]{43}$/.test(q.get("code_challenge") || "") && q.get("state");
    if (!ok) { oidc.refused.push(`authorize ${url.search}`); res.writeHead(400).end("bad request"); return; }
    const code = b64url(randomBytes(16));
    oidc.codes.set(code, q.get("code_challenge"));
    res.writeHead(302, { Location: `${redirect}?code=${code}&state=${encodeURIComponent(q.get("state"))}` }).end();
    return;
  }
  if (url.pathname === "/oauth2/token" && req.method === "POST") {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      const f = new URLSearchParams(body);
      const challenge = oidc.codes.get(f.get("code"));
      oidc.codes.delete(f.get("code"));
      const verified = challenge && challenge === b64url(createHash("sha256").update(f.get("code_verifier") || "").digest());
      const headers = { "Content-Type": "application/json", "Access-Control-Allow-Origin": ORIGIN };
      if (!verified || f.get("grant_type") !== "authorization_code" || f.get("client_id") !== "console-test-client"
        || f.get("redirect_uri") !== redirect) {
        oidc.refused.push(`token ${body}`);
        res.writeHead(400, headers).end(JSON.stringify({ error: "invalid_grant" }));
        return;
      }
      oidc.exchanged += 1;
      res.writeHead(200, headers).end(JSON.stringify({ access_token: OIDC_TOKEN, token_type: "Bearer", expires_in: 3600 }));
    });
    return;
  }
  if (url.pathname === "/logout") {
    oidc.loggedOut += 1;
    res.writeHead(302, { Location: url.searchParams.get("logout_uri") }).end();
    return;
  }
  res.writeHead(404).end();
}
const provider = http.createServer(standInProvider);

let browser;
let config;
before(async () => {
  await new Promise((resolve) => provider.listen(OIDC_PORT, "127.0.0.1", resolve));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  // The page's own settings: where the APIs are.
  const html = await (await fetch(URL_)).text();
  config = JSON.parse(html.match(/id="console-config">([^<]*)</)[1]);
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  provider.close();
});

/** A fresh tab (no state shared between scenarios), failing on any script error or CSP violation. */
async function tab(width = 1440) {
  const context = await browser.newContext({ viewport: { width, height: width < 600 ? 780 : 900 } });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(`script error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource: the server responded with a status of (403|404|409|412|422)/.test(m.text())) {
      page.problems.push(`console error: ${m.text()}`);
    }
  });
  return page;
}

async function signIn(page, token) {
  await page.goto(URL_);
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in with this token" }).click();
  await page.getByText("Signed in as").waitFor();
}

/** axe-core inside the page: no WCAG A/AA violation. */
async function accessible(page, what) {
  // Evaluated through the DevTools protocol: the page's CSP (scripts from
  // its own origin only) stays as it is.
  await page.evaluate(AXE);
  const result = await page.evaluate(() => globalThis.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] },
  }));
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  assert.deepEqual(found, [], `${what}: accessibility violations`);
  assert.deepEqual(page.problems, [], `${what}: script errors`);
}

async function shot(page, name) {
  if (!SHOTS) return;
  await page.screenshot({ path: `${SHOTS}/${name}-${page.viewportSize().width < 600 ? "phone" : "desktop"}.png`, fullPage: true });
}

/** A call to an API as the admin, outside the browser (another operator's edit, say). */
async function call(base, path, init = {}) {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json", ...(init.headers || {}) },
  });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) };
}

/** Chooses the option of `select` whose text matches `re`. */
async function pick(select, re) {
  const labels = await select.locator("option").allTextContents();
  const label = labels.find((l) => re.test(l));
  assert.ok(label, `no option matches ${re} in ${labels.join(" | ")}`);
  await select.selectOption({ label });
}

const heading = (page, name) => page.getByRole("heading", { level: 1, name }).waitFor();

test("an admin creates a customer, edits stock, runs a saga, sees it replay, reads the timeline and cancels", async () => {
  const page = await tab();
  await signIn(page, ADMIN);
  await heading(page, "Orders");
  assert.equal(await page.locator("#whoami").textContent(), "ana.admin");
  await accessible(page, "orders");

  // A customer.
  const email = `console-${Date.now()}@example.com`;
  await page.getByRole("link", { name: "Customers" }).click();
  await heading(page, "Customers");
  await page.getByRole("link", { name: "New customer" }).click();
  await heading(page, "New customer");
  await accessible(page, "new customer");
  await page.getByLabel("Name").fill("Console Buyer");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Phone (optional)").fill("+51911222333");
  await page.getByRole("button", { name: "Create customer" }).click();
  await page.getByRole("cell", { name: email }).waitFor();
  await accessible(page, "customers");
  // Edited: the new phone is what the API holds.
  await page.getByRole("link", { name: "Edit Console Buyer" }).click();
  await heading(page, /Edit customer #\d+/);
  assert.equal(await page.getByLabel("Email").inputValue(), email);
  await page.getByLabel("Phone (optional)").fill("+51944555666");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("cell", { name: "+51944555666" }).waitFor();

  // Stock of the mouse (SKU002) raised to 500.
  await page.getByRole("link", { name: "Products" }).click();
  await heading(page, "Products");
  await accessible(page, "products");
  await page.getByRole("link", { name: "Edit Mouse" }).click();
  await heading(page, /Mouse/);
  await page.getByLabel("Stock (units on hand)").fill("500");
  await page.getByRole("button", { name: "Save product" }).click();
  await page.getByText("500 in stock").waitFor();
  assert.equal((await call(config.orders_api, "/products/2")).body.stock, 500);
  await accessible(page, "product");

  // The saga: the new customer, two products.
  await page.getByRole("link", { name: "New order" }).first().click();
  await heading(page, "New order");
  await page.getByLabel("Find a customer by name or email").fill(email);
  await page.getByRole("button", { name: "Find" }).click();
  await pick(page.getByLabel("Customer", { exact: true }), new RegExp(email));
  await pick(page.getByLabel("Product, line 1"), /Mouse/);
  await page.getByLabel("Quantity, line 1").fill("3");
  await page.getByRole("button", { name: "Add a line" }).click();
  await pick(page.getByLabel("Product, line 2"), /Teclado/);
  await page.getByLabel("Quantity, line 2").fill("2");
  await page.getByText("Estimated total: 189.50").waitFor();
  const key = await page.getByLabel("Idempotency key").inputValue();
  assert.match(key, /^console-[0-9a-f-]{36}$/);
  await accessible(page, "new order");
  await page.getByRole("button", { name: "Place and confirm the order" }).click();
  const done = page.getByRole("heading", { name: /201 Created: order #\d+ confirmed/ });
  await done.waitFor();
  const orderId = Number((await done.textContent()).match(/#(\d+)/)[1]);
  // The picker's stock is the stock now.
  await page.waitForFunction(() => [...document.querySelectorAll("option")].some((o) => o.selected && o.textContent.includes("497 in stock")));
  await accessible(page, "saga answer");
  await shot(page, "new-order");

  // The same form again: a replay, not a second order.
  await page.getByRole("button", { name: "Place and confirm the order" }).click();
  await page.getByRole("heading", { name: `Replayed: order #${orderId} was already placed with this key` }).waitFor();
  const mine = await call(config.orders_api, `/orders?customer_id=${(await call(config.orders_api, `/orders/${orderId}`)).body.customer_id}`);
  assert.equal(mine.body.data.length, 1, "one order for the customer");

  // Its page: items, and a timeline naming the caller.
  await page.getByRole("link", { name: `See order #${orderId} and its timeline` }).click();
  await heading(page, `Order #${orderId}`);
  const timeline = page.getByRole("list", { name: /What happened to this order/ });
  await timeline.getByText("confirmed").waitFor();
  assert.equal(await timeline.locator("li").count(), 2);
  assert.match(await timeline.textContent(), /created.*by ana\.admin.*confirmed.*by ana\.admin/s);
  assert.match(await timeline.textContent(), new RegExp(`saga-.*-create|${key}`));
  await page.getByRole("cell", { name: "Mouse (SKU002)" }).waitFor();
  await accessible(page, "order");
  await shot(page, "order");

  // Canceled: the timeline grows, and the stock comes back.
  await page.getByRole("button", { name: "Cancel order" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Cancel the order" }).click();
  await timeline.locator("li").nth(2).waitFor();
  assert.match(await timeline.locator("li").nth(2).textContent(), /canceled.*by ana\.admin/s);
  await page.locator(".facts").getByText("CANCELED").waitFor();
  assert.equal((await call(config.orders_api, "/products/2")).body.stock, 500);

  // A customer deleted, once the dialog confirms it; "Keep it" keeps it.
  const gone = `gone-${Date.now()}@example.com`;
  const made = await call(config.customers_api, "/customers", { method: "POST", body: JSON.stringify({ name: "Short Lived", email: gone }) });
  assert.equal(made.status, 201);
  await page.goto(`${URL_}#/customers?search=${gone}`);
  await page.getByRole("cell", { name: gone }).waitFor();
  await page.getByRole("button", { name: "Delete Short Lived" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Keep it" }).click();
  assert.equal((await call(config.customers_api, `/customers/${made.body.id}`)).status, 200);
  await page.getByRole("button", { name: "Delete Short Lived" }).click();
  await accessible(page, "delete dialog");
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByText("No customer matches.").waitFor();
  assert.equal((await call(config.customers_api, `/customers/${made.body.id}`)).status, 404);
  assert.deepEqual(page.problems, []);
});

test("a concurrent stock edit is shown as a 412, and the reload shows the other edit", async () => {
  const page = await tab();
  await signIn(page, ADMIN);
  await page.goto(`${URL_}#/products/3`);
  await heading(page, /Teclado/);
  // Someone else changes the stock meanwhile.
  const now = await call(config.orders_api, "/products/3");
  const other = await call(config.orders_api, "/products/3", {
    method: "PATCH", headers: { "If-Match": now.headers.get("etag") }, body: JSON.stringify({ stock: now.body.stock + 7 }),
  });
  assert.equal(other.status, 200);
  await page.getByLabel("Stock (units on hand)").fill("1");
  await page.getByRole("button", { name: "Save product" }).click();
  const alert = page.getByRole("alert");
  await alert.getByText("precondition_failed").waitFor();
  assert.match(await alert.textContent(), /Someone changed this since you opened it/);
  await accessible(page, "412");
  await page.getByRole("button", { name: "Reload the product" }).click();
  // The form drawn again, from the product as it is now.
  await page.locator(`input[name="stock"][value="${now.body.stock + 7}"]`).waitFor();
  assert.equal(await page.getByLabel("Stock (units on hand)").inputValue(), String(now.body.stock + 7));
  assert.equal(await page.getByRole("alert").count(), 0, "the refusal is gone with the stale form");
  assert.equal((await call(config.orders_api, "/products/3")).body.stock, now.body.stock + 7, "the stale edit wrote nothing");
});

test("a viewer sees no write controls, and a forced write shows the server's 403", async () => {
  const page = await tab();
  await signIn(page, VIEWER);
  await heading(page, "Orders");
  assert.match(await page.locator("#account").textContent(), /vic\.viewer.*viewer/s);
  assert.equal(await page.getByRole("link", { name: "New order" }).count(), 0);
  await page.getByRole("link", { name: "Customers" }).click();
  await heading(page, "Customers");
  await page.getByRole("cell", { name: "ACME", exact: true }).waitFor();
  for (const name of [/^New customer$/, /^Edit/, /^Delete/]) {
    assert.equal(await page.getByRole("link", { name }).count() + await page.getByRole("button", { name }).count(), 0, `${name}`);
  }
  await page.getByRole("link", { name: "Products" }).click();
  await page.getByRole("link", { name: "View Mouse" }).waitFor();
  assert.equal(await page.getByRole("link", { name: /^Edit/ }).count(), 0);
  // A write the console would not offer, forced by its address.
  await page.goto(`${URL_}#/customers/new`);
  await heading(page, "New customer");
  await page.getByText("Your token does not grant customers:write").waitFor();
  await page.getByLabel("Name").fill("Not Allowed");
  await page.getByLabel("Email").fill(`viewer-${Date.now()}@example.com`);
  await page.getByRole("button", { name: "Create customer" }).click();
  const alert = page.getByRole("alert");
  await alert.getByText("403 Forbidden").waitFor();
  assert.match(await alert.textContent(), /customers:write/);
  assert.match(await alert.textContent(), /Your role does not allow this/);
  await accessible(page, "viewer 403");
});

test("an order operator's refused saga explains its code in words", async () => {
  const page = await tab();
  await signIn(page, OPERATOR);
  await page.goto(`${URL_}#/new-order`);
  await heading(page, "New order");
  await pick(page.getByLabel("Customer", { exact: true }), /ACME/);
  await pick(page.getByLabel("Product, line 1"), /Laptop/);
  await page.getByLabel("Quantity, line 1").fill("100000");
  await page.getByRole("button", { name: "Place and confirm the order" }).click();
  await page.getByRole("heading", { name: "The order was not placed" }).waitFor();
  const alert = page.getByRole("alert");
  assert.match(await alert.textContent(), /insufficient_stock|order_limit_exceeded/);
  assert.match(await alert.textContent(), /Not enough stock|larger than one order may be/);
  assert.match(await alert.textContent(), /Correlation id/);
  await accessible(page, "saga refusal");
});

test("the saga form pages its customers and products instead of loading them all", async () => {
  // More of each than one page (20) holds.
  const tag = `paged${Date.now()}`;
  for (let n = 1; n <= 21; n++) {
    const c = await call(config.customers_api, "/customers", { method: "POST",
      body: JSON.stringify({ name: `Paged ${n}`, email: `${tag}-${n}@example.com` }) });
    assert.equal(c.status, 201);
  }
  const last = `${tag.toUpperCase()}-21`;
  for (let n = 1; n <= 21; n++) {
    const p = await call(config.orders_api, "/products", { method: "POST",
      body: JSON.stringify({ sku: `${tag.toUpperCase()}-${n}`, name: `Paged product ${n}`, price_cents: 100, stock: 5 }) });
    assert.equal(p.status, 201);
  }
  const page = await tab();
  await signIn(page, ADMIN);
  await page.goto(`${URL_}#/new-order`);
  await heading(page, "New order");
  const products = page.getByLabel("Product, line 1");
  const options = async (select) => (await select.locator("option").allTextContents()).slice(1);
  assert.equal((await options(products)).length, 20, "one page of products");
  assert.ok(!(await options(products)).some((o) => o.includes(last)));
  await page.getByRole("button", { name: "More products" }).click();
  await page.waitForFunction((sku) => [...document.querySelectorAll("option")].some((o) => o.textContent.includes(sku)), last);
  await pick(page.getByLabel("Product, line 1"), new RegExp(last));

  await page.getByLabel("Find a customer by name or email").fill(tag);
  await page.getByRole("button", { name: "Find" }).click();
  await page.getByRole("button", { name: "More customers" }).waitFor();
  const customers = page.getByLabel("Customer", { exact: true });
  assert.equal((await options(customers)).length, 20, "one page of customers");
  await page.getByRole("button", { name: "More customers" }).click();
  await page.waitForFunction((email) => [...document.querySelectorAll("option")].some((o) => o.textContent.includes(email)), `${tag}-21@example.com`);
  assert.equal((await options(page.getByLabel("Customer", { exact: true }))).length, 21);
  assert.equal(await page.getByRole("button", { name: "More customers" }).count(), 0, "no page after the last");
  // The line chosen before stays chosen across the pages.
  assert.match(await page.getByLabel("Product, line 1").locator("option:checked").textContent(), new RegExp(last));
  await accessible(page, "saga form, paged");
});

test("a page still loading never draws over the page asked for since", async () => {
  const page = await tab();
  await signIn(page, ADMIN);
  await heading(page, "Orders");
  // The orders list answers slowly; the operator moves on to products.
  await page.route(/\/orders\?/, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.continue();
  });
  await page.goto(`${URL_}#/orders?status=CONFIRMED`);
  await page.goto(`${URL_}#/products`);
  await heading(page, "Products");
  await page.waitForTimeout(2500); // the slow answer has come back by now
  assert.equal(await page.locator("h1").textContent(), "Products");
  assert.deepEqual(page.problems, []);
});

test("keyboard only: sign in, reach a page, and see where the focus is", async () => {
  const page = await tab();
  await page.goto(URL_);
  await heading(page, "Sign in");
  // The skip link comes first, and shows itself when focused.
  await page.locator("a.skip").focus();
  assert.ok((await page.locator("a.skip").boundingBox()).x >= 0, "the focused skip link is on screen");
  await page.keyboard.press("Tab");
  let found = await page.evaluate(() => document.activeElement.id === "token");
  for (let i = 0; i < 10 && !found; i++) {
    await page.keyboard.press("Tab");
    found = await page.evaluate(() => document.activeElement.id === "token");
  }
  assert.ok(found, "the token field is reachable by Tab");
  await page.keyboard.insertText(ADMIN);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Sign in with this token");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "the focused control shows its focus");
  await page.keyboard.press("Enter");
  await heading(page, "Orders");
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate(() => document.activeElement.textContent === "Products")) break;
  }
  await page.keyboard.press("Enter");
  await heading(page, "Products");
  assert.equal(await page.evaluate(() => document.activeElement.tagName), "H1", "focus moves to the new page's heading");
});

test("the first view stays under 150 KB, with the page's CSP and long-lived hashed assets", async () => {
  const page = await tab();
  let bytes = 0;
  const assets = [];
  page.on("response", async (r) => {
    const body = await r.body().catch(() => Buffer.alloc(0));
    bytes += body.length;
    if (/\/console\/app\.[0-9a-f]{16}\.(js|css)$/.test(r.url())) assets.push(r);
  });
  const res = await page.goto(URL_);
  const csp = res.headers()["content-security-policy"];
  assert.match(csp, /script-src 'self';/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers()["cache-control"], "no-cache");
  await page.getByLabel("Access token").fill(ADMIN);
  await page.getByRole("button", { name: "Sign in with this token" }).click();
  await page.getByRole("table").waitFor();
  await page.waitForLoadState("networkidle");
  assert.ok(bytes < FIRST_VIEW_BUDGET, `first view transferred ${bytes} bytes`);
  assert.equal(assets.length, 2, "one script, one stylesheet");
  for (const a of assets) {
    assert.match(a.headers()["cache-control"], /max-age=31536000, immutable/);
    assert.equal(a.status(), 200);
    assert.ok(a.url().startsWith(`${PAGE_URL}/`), `${a.url()} is served under the page's own mount`);
  }
  // An inline script is refused by the policy.
  const ran = await page.evaluate(() => new Promise((resolve) => {
    document.addEventListener("securitypolicyviolation", () => resolve(false), { once: true });
    const s = document.createElement("script");
    s.textContent = "window.__inline = true";
    document.body.append(s);
    setTimeout(() => resolve(Boolean(window.__inline)), 500);
  }));
  assert.equal(ran, false, "inline scripts do not run");
  assert.ok(ORIGIN);
});

test("every page at 360 px and 1440 px: no sideways scroll, no violation", async () => {
  for (const width of [360, 1440]) {
    const page = await tab(width);
    await page.goto(URL_);
    await heading(page, "Sign in");
    await accessible(page, `sign in ${width}`);
    await shot(page, "sign-in");
    await signIn(page, ADMIN);
    for (const [hash, name, title] of [["#/orders", "orders", "Orders"], ["#/customers", "customers", "Customers"],
      ["#/products", "products", "Products"], ["#/products/2", "product", /Mouse/], ["#/new-order", "new-order-form", "New order"]]) {
      await page.goto(`${URL_}${hash}`);
      await heading(page, title);
      await page.waitForLoadState("networkidle");
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(wide <= 0, `${name} at ${width} px scrolls sideways by ${wide} px`);
      await accessible(page, `${name} ${width}`);
      await shot(page, name);
    }
    const latest = (await call(config.orders_api, "/orders?limit=1")).body.data[0];
    if (latest) {
      await page.goto(`${URL_}#/orders/${latest.id}`);
      await heading(page, `Order #${latest.id}`);
      await page.waitForLoadState("networkidle");
      await accessible(page, `order ${width}`);
      await shot(page, "order");
    }
    await page.context().close();
  }
});

test("sign-in through the OIDC provider: code flow with PKCE, the token in memory only, sign out", async () => {
  const page = await tab();
  await page.goto(URL_);
  await heading(page, "Sign in");
  await page.getByRole("button", { name: "Sign in with your organisation's account" }).click();
  await page.getByText("Signed in as").waitFor();
  assert.equal(await page.locator("#whoami").textContent(), "oscar.oidc");
  assert.match(await page.locator("#account").textContent(), /catalog-manager/);
  assert.equal(oidc.exchanged, 1, "one code, exchanged once with its verifier");
  assert.deepEqual(oidc.refused, []);
  // The code is gone from the address, and the token is in no storage.
  assert.equal(new URL(page.url()).search, "");
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }) + document.cookie);
  assert.ok(!stored.includes(OIDC_TOKEN.split(".")[1]), "the token is not stored");
  assert.equal(stored, "{}", "nothing is left in storage");
  // The catalog manager's token works: products, editable.
  await page.getByRole("link", { name: "Products" }).click();
  await page.getByRole("link", { name: "Edit Mouse" }).waitFor();
  await accessible(page, "signed in through OIDC");
  // An answer that does not match the request is refused.
  await page.goto(`${URL_}?code=forged&state=forged`);
  await page.getByRole("alert").getByText(/Sign-in failed/).waitFor();
  assert.equal(oidc.exchanged, 1, "a forged answer reaches no token endpoint");
  // Signing out ends the provider's session too, and comes back to sign in.
  await page.getByLabel("Access token").fill(ADMIN);
  await page.getByRole("button", { name: "Sign in with this token" }).click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await heading(page, "Sign in");
  assert.equal(oidc.loggedOut, 1);
});
