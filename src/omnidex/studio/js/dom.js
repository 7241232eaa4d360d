// Small DOM helpers: elements built with text nodes (never innerHTML), times, errors.

/** h("a", {href: "#/x", class: "c"}, "text", child) */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (name in node && typeof value !== "string") {
      node[name] = value;
    } else {
      node.setAttribute(name, value === true ? "" : value);
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** 72.4 → "00:01:12" */
export function clock(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const total = Math.max(0, Math.floor(seconds));
  const parts = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  return parts.map((n) => String(n).padStart(2, "0")).join(":");
}

/** Where a document or hit sits in its source: a time range, a page, or its key. */
export function place(item) {
  if (item.start_s !== null && item.start_s !== undefined) {
    return `${clock(item.start_s)}–${clock(item.end_s ?? item.start_s)}`;
  }
  if (item.page !== null && item.page !== undefined) {
    const last = item.end_page ?? item.page;
    return last === item.page ? `page ${item.page}` : `pages ${item.page}–${last}`;
  }
  return item.key || "";
}

export function basename(source) {
  return String(source || "").split(/[\\/]/).pop();
}

/** An inline error message (role=alert), naming the field when the API did. */
export function errorBox(error) {
  const field = error && error.field ? h("code", {}, error.field) : null;
  return h(
    "p",
    { class: "error", role: "alert" },
    h("strong", {}, error && error.code ? `${error.code}: ` : "Error: "),
    error && error.message ? error.message : String(error),
    field ? [" — field ", field] : null,
  );
}

export function announce(message) {
  const status = document.getElementById("status");
  if (status) status.textContent = message;
}

/** Text features of a document worth showing: captions, transcripts, slide and page text. */
export function textFeatures(features) {
  return Object.entries(features || {})
    .filter(([, value]) => typeof value === "string" && value.trim())
    .sort(([a], [b]) => rank(a) - rank(b));
}

function rank(address) {
  if (address.endsWith("/caption")) return 0;
  if (address.endsWith("/text")) return 1;
  return 2;
}

export function featureLabel(address) {
  const [extractor, feature] = address.split("/");
  const name = extractor.split("@")[0];
  if (feature === "caption") return "Caption";
  if (name === "transcription") return "Transcript";
  if (name === "ocr") return "Slide text";
  if (name === "page_text") return "Text";
  return address;
}
