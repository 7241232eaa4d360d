// The /v1 API, called with the key kept in sessionStorage (sent as a header, never in a URL).

const KEY = "omnidex.studio.key";

export function getKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && typeof body === "object" && body.error ? body.error : {};
    super(detail.message || (typeof body === "string" && body) || `HTTP ${status}`);
    this.status = status;
    this.code = detail.code || "http_" + status;
    this.field = detail.field || null;
  }
}

function headers(extra) {
  const result = new Headers(extra || {});
  const key = getKey();
  if (key) result.set("Authorization", `Bearer ${key}`);
  return result;
}

/** JSON from the API; throws ApiError with the error's message, code and field. */
export async function api(path, { method = "GET", json, body, headers: extra } = {}) {
  const init = { method, headers: headers(extra) };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers.set("Content-Type", "application/json");
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const text = await response.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** How many items a paged listing holds in all (its X-Total-Count), fetching one of them. */
export async function apiTotal(path) {
  const response = await fetch(`${path}${path.includes("?") ? "&" : "?"}limit=1`, { headers: headers() });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return Number(response.headers.get("X-Total-Count"));
}

const thumbnails = new Map();

/** A blob: URL for an API resource that needs the key (thumbnails; <img> cannot send it). */
export async function blobUrl(path, { cache = true } = {}) {
  if (cache && thumbnails.has(path)) return thumbnails.get(path);
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw new ApiError(response.status, null);
  const url = URL.createObjectURL(await response.blob());
  if (cache) thumbnails.set(path, url);
  return url;
}

export const enc = encodeURIComponent;

/** A filter-language string literal. */
export function quote(value) {
  return "'" + String(value).replaceAll("'", "''") + "'";
}
