// Retrievers: the list, a new one from a template, and one retriever's spec as JSON to edit,
// save (the API's validation error shown inline, naming the field) and run with explain.

import { api, enc } from "./api.js";
import { clear, errorBox, h } from "./dom.js";
import { inputOfType, renderResults } from "./search.js";

export async function retrieversPage(main) {
  const [retrievers, collections] = await Promise.all([api("/v1/retrievers"), api("/v1/collections")]);
  const template = {
    name: "my-retriever",
    description: "",
    collections: collections.length ? [collections[0].name] : ["my-collection"],
    inputs: { query: { type: "text" } },
    stages: [
      { type: "feature_search", params: { searches: [{ feature: "text", top_k: 50 }] } },
      { type: "group_by", params: { top_n: 3 } },
      { type: "limit", params: { limit: 10 } },
    ],
  };
  clear(main,
    h("h1", {}, "Retrievers"),
    retrievers.length
      ? h("div", { class: "scroll" }, h("table", {},
          h("thead", {}, h("tr", {}, ["Name", "Version", "Collections", "Stages", "Description"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, retrievers.map((r) => h("tr", {},
            h("th", { scope: "row" }, h("a", { href: `#/retrievers/${enc(r.name)}` }, r.name)),
            h("td", { class: "num" }, `v${r.version}`),
            h("td", {}, r.spec.collections.join(", ")),
            h("td", {}, r.spec.stages.map((s) => s.type).join(" → ")),
            h("td", {}, r.spec.description))))))
      : h("p", {}, "No retrievers yet."),
    editor(template, "New retriever", null));
  return null;
}

export async function retrieverPage(main, name, params) {
  const version = params.get("version");
  const info = await api(`/v1/retrievers/${enc(name)}${version ? `?version=${enc(version)}` : ""}`);
  const inputs = h("textarea", { id: "run-inputs", rows: 3, spellcheck: false },
    JSON.stringify({ [inputOfType(info.spec, "text") || "query"]: "" }, null, 2));
  const results = h("section", { id: "results", "aria-live": "polite", "aria-label": "results" });
  const runForm = h("form", { class: "card", id: "run-form" },
    h("h2", {}, "Run"),
    h("label", { for: "run-inputs" }, "Inputs (JSON)"), inputs,
    h("button", { type: "submit" }, "Run with explain"));
  runForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(results, h("p", { class: "loading" }, "Running…"));
    try {
      const body = { inputs: JSON.parse(inputs.value || "{}") };
      const result = await api(`/v1/retrievers/${enc(name)}/explain`, { method: "POST", json: body });
      await renderResults(results, result.hits, info.spec.collections[0], result);
    } catch (error) {
      clear(results, errorBox(error));
    }
  });
  clear(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/retrievers" }, "Retrievers"), " / ", name),
    h("h1", {}, name),
    h("p", {}, `version ${info.version} · updated ${new Date(info.updated_at).toLocaleString()}`),
    h("div", { class: "browse" }, editor(info.spec, "Spec", info.version), h("div", {}, runForm, results)));
  return null;
}

function editor(spec, title, version) {
  const error = h("div", { id: "spec-error", "aria-live": "assertive" });
  const text = h("textarea", { id: "spec-json", rows: 22, spellcheck: false, "aria-describedby": "spec-error" },
    JSON.stringify(spec, null, 2));
  const form = h("form", { class: "card", id: "spec-form" },
    h("h2", {}, title),
    h("label", { for: "spec-json" }, "Retriever spec (JSON)"), text, error,
    h("button", { type: "submit" }, "Save"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(error);
    text.removeAttribute("aria-invalid");
    let body;
    try {
      body = JSON.parse(text.value);
    } catch (parseError) {
      text.setAttribute("aria-invalid", "true");
      clear(error, errorBox({ code: "invalid_json", message: parseError.message }));
      return;
    }
    try {
      const saved = await api("/v1/retrievers", { method: "POST", json: body });
      const target = `#/retrievers/${enc(saved.name)}`;
      if (location.hash === target && saved.version === version) {
        clear(error, h("p", { class: "ok" }, `Unchanged (version ${saved.version}).`));
      } else if (location.hash === target) {
        window.dispatchEvent(new HashChangeEvent("hashchange")); // same page, a new version
      } else {
        location.hash = target;
      }
    } catch (apiError) {
      text.setAttribute("aria-invalid", "true");
      clear(error, errorBox(apiError));
    }
  });
  return form;
}
