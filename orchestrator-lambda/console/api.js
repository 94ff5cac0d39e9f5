// @ts-check
// Calls to the APIs and the saga: the operator's token on each, the answer
// read as JSON, a refusal as one problem shape.

import { MOUNT, SAGA_PATH, config, session } from "./state.js";

/**
 * A call to one of the APIs; the answer, its headers and, for a refusal, the problem.
 * @param {string} base
 * @param {string} path
 * @param {{ method?: string, body?: unknown, headers?: Record<string, string> }} [options]
 */
export async function api(base, path, { method = "GET", body = undefined, headers = {} } = {}) {
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
export function problemOf(status, json) {
  if (json?.error) {
    return { status, code: json.error.code, title: json.error.code, detail: json.error.message, step: json.error.step,
      retriable: json.error.retriable, correlation: json.correlationId };
  }
  return { status, code: json?.code, title: json?.title || `HTTP ${status}`, detail: json?.detail, errors: json?.errors };
}

export const customersApi = (path, opts) => api(config.customers_api || MOUNT, path, opts);
export const ordersApi = (path, opts) => api(config.orders_api || MOUNT, path, opts);

/** The saga, on this function (wherever it is mounted). */
export const sagaApi = (body) => api(MOUNT, SAGA_PATH, { method: "POST", body });
