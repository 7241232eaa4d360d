// The Studio's entry point: the key form, hash routing (#/collections, #/search…) and pages.

import { api, getKey, setKey } from "./api.js";
import { clear, errorBox, h } from "./dom.js";
import { collectionPage, collectionsPage } from "./collections.js";
import { ingestPage } from "./ingest.js";
import { objectPage } from "./browse.js";
import { searchPage } from "./search.js";
import { retrieverPage, retrieversPage } from "./retrievers.js";

const routes = [
  [/^\/collections\/([^/]+)$/, collectionPage, "collections"],
  [/^\/collections$/, collectionsPage, "collections"],
  [/^\/ingest$/, ingestPage, "ingest"],
  [/^\/objects\/([^/]+)\/([^/]+)$/, objectPage, "collections"],
  [/^\/search$/, searchPage, "search"],
  [/^\/retrievers\/([^/]+)$/, retrieverPage, "retrievers"],
  [/^\/retrievers$/, retrieversPage, "retrievers"],
];

let cleanup = null;
let authOn = true;

/** "#/search?collection=x" → {path: "/search", params: URLSearchParams} */
export function currentRoute() {
  const raw = location.hash.replace(/^#/, "") || "/collections";
  const [path, query] = raw.split("?");
  return { path, params: new URLSearchParams(query || "") };
}

async function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const main = document.getElementById("main");
  const { path, params } = currentRoute();
  const match = routes.map(([re, page, section]) => [re.exec(path), page, section]).find(([m]) => m);
  for (const link of document.querySelectorAll("nav a[data-section]")) {
    if (match && link.dataset.section === match[2]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!match) {
    clear(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/collections" }, "Go to collections")));
    return;
  }
  if (authOn && !getKey()) {
    clear(
      main,
      h("h1", {}, "Enter your API key"),
      h("p", {}, "This server needs a key. Create one with ", h("code", {}, "omnidex key create NAME"),
        " and enter it above; it stays in this browser tab only."),
    );
    document.getElementById("api-key").focus();
    return;
  }
  const [groups, page] = match;
  const args = groups.slice(1).map(decodeURIComponent);
  clear(main, h("p", { class: "loading" }, "Loading…"));
  try {
    cleanup = (await page(main, ...args, params)) || null;
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      clear(main, h("h1", {}, "The key was refused"), errorBox(error),
        h("p", {}, "Enter another key above (a write key to ingest and save), or check it with ",
          h("code", {}, "omnidex key list"), "."));
    } else {
      clear(main, h("h1", {}, "Something went wrong"), errorBox(error));
    }
  }
}

function navigated() {
  render().then(() => {
    const heading = document.querySelector("#main h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  });
}

function showKeyState() {
  const state = document.getElementById("key-state");
  if (!authOn) state.textContent = "no key needed (dev mode)";
  else state.textContent = getKey() ? "key set for this tab" : "no key yet";
}

async function start() {
  try {
    authOn = (await api("/v1/health")).auth;
  } catch {
    authOn = true;
  }
  const form = document.getElementById("key-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("api-key");
    setKey(input.value.trim());
    input.value = "";
    showKeyState();
    navigated();
  });
  document.getElementById("forget-key").addEventListener("click", () => {
    setKey("");
    showKeyState();
    navigated();
  });
  showKeyState();
  window.addEventListener("hashchange", navigated);
  if (!location.hash) history.replaceState(null, "", "#/collections");
  await render();
}

start();
