// The JSON API client: one function, the one error shape.

const CSRF = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") || "";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** An API failure: `code` and `message` from {"error": {...}}, `diagnostics` when the
 * server found problems in a script, `status` the HTTP status (0 when the network failed). */
export class ApiError extends Error {
  constructor(status, code, message, diagnostics) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.diagnostics = diagnostics || null;
  }
}

/** `api("POST", "/api/runs", {...})` resolves to the parsed JSON body (null for 204). */
export async function api(method, path, body) {
  method = method.toUpperCase();
  const headers = { Accept: "application/json" };
  if (UNSAFE.has(method)) headers["X-CSRF-Token"] = CSRF;
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "network", "the server cannot be reached: " + err.message);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(
      response.status,
      e.code || "http_" + response.status,
      e.message || response.statusText || "request failed",
      e.diagnostics,
    );
  }
  return data;
}

export const csrfToken = CSRF;
