// Collections: the list with counts, a create form, and one collection's spec and objects.

import { api, apiTotal, enc } from "./api.js";
import { basename, clear, errorBox, h } from "./dom.js";

async function counts(name) {
  const [documents, objects, failed] = await Promise.all([
    api(`/v1/collections/${enc(name)}/documents?limit=1`),
    apiTotal(`/v1/collections/${enc(name)}/objects`),
    apiTotal(`/v1/collections/${enc(name)}/objects?status=failed`),
  ]);
  return { documents: documents.total, objects, failed };
}

export async function collectionsPage(main) {
  const collections = await api("/v1/collections");
  const rows = await Promise.all(collections.map(async (c) => [c, await counts(c.name)]));
  const table = rows.length
    ? h(
        "table",
        {},
        h("caption", {}, `${rows.length} collection${rows.length === 1 ? "" : "s"}`),
        h("thead", {}, h("tr", {},
          ["Name", "Objects", "Documents", "Failed", "Extractors", "Spec"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows.map(([c, n]) => h("tr", {},
          h("th", { scope: "row" }, h("a", { href: `#/collections/${enc(c.name)}` }, c.name)),
          h("td", { class: "num" }, n.objects),
          h("td", { class: "num" }, n.documents),
          h("td", { class: n.failed ? "num bad" : "num" }, n.failed),
          h("td", {}, c.spec.extractors.map((e) => e.name).join(", ")),
          h("td", {}, `v${c.spec_version}`),
        ))),
      )
    : h("p", {}, "No collections yet: create one below.");
  clear(main, h("h1", {}, "Collections"), h("div", { class: "scroll" }, table), createForm());
}

/** The extractors and segmentation of a pipeline spec typed as JSON; an Error saying why not. */
function parseSpec(text) {
  let spec;
  try {
    spec = JSON.parse(text);
  } catch (error) {
    throw new Error(`the pipeline spec is not valid JSON: ${error.message}`);
  }
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) {
    throw new Error('a pipeline spec is a JSON object: {"extractors": [...], "segmentation": {...}}');
  }
  const { extractors, segmentation } = spec;
  return { ...(extractors ? { extractors } : {}), ...(segmentation ? { segmentation } : {}) };
}

function createForm() {
  const out = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card", id: "create-collection" },
    h("h2", {}, "New collection"),
    h("label", { for: "new-name" }, "Name"),
    h("input", { id: "new-name", name: "name", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}" }),
    h("label", { for: "new-preset" }, "Preset (optional)"),
    h("input", { id: "new-preset", name: "preset", placeholder: "meeting" }),
    h("label", { for: "new-extractors" }, "Or extractors, comma separated"),
    h("input", { id: "new-extractors", name: "extractors", placeholder: "page_text@v1, text_embedding@v1" }),
    h("label", { for: "new-spec" }, "Or a pipeline spec (JSON: extractors with params, segmentation)"),
    h("textarea", {
      id: "new-spec", name: "spec", rows: 4, spellcheck: "false",
      placeholder: '{"extractors": [{"name": "ocr@v1", "params": {"languages": "eng"}}], "segmentation": {"split": "scene"}}',
    }),
    h("button", { type: "submit" }, "Create"),
    out,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: String(data.get("name")).trim() };
    const preset = String(data.get("preset")).trim();
    const extractors = String(data.get("extractors")).split(",").map((s) => s.trim()).filter(Boolean);
    if (preset) body.preset = preset;
    if (extractors.length) body.extractors = extractors;
    const spec = String(data.get("spec")).trim();
    try {
      if (spec) Object.assign(body, parseSpec(spec));
      await api("/v1/collections", { method: "POST", json: body });
      location.hash = `#/collections/${enc(body.name)}`;
    } catch (error) {
      clear(out, errorBox(error));
    }
  });
  return form;
}

export async function collectionPage(main, name) {
  const [info, objects, n] = await Promise.all([
    api(`/v1/collections/${enc(name)}`),
    api(`/v1/collections/${enc(name)}/objects`),
    counts(name),
  ]);
  clear(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "#/collections" }, "Collections"), " / ", name),
    h("h1", {}, name),
    h("p", {}, `${n.objects} objects · ${n.documents} documents · ${n.failed} failed · spec v${info.spec_version}`),
    h("p", { class: "actions" },
      h("a", { class: "button", href: `#/ingest?collection=${enc(name)}` }, "Ingest into this collection"),
      h("a", { class: "button", href: `#/search?target=${enc("c:" + name)}` }, "Search it")),
    h("h2", {}, "Objects"),
    objects.length
      ? h("div", { class: "scroll" }, h("table", {},
          h("caption", {}, objects.length < n.objects
            ? `the first ${objects.length} of ${n.objects} objects (the API pages the rest)`
            : `${objects.length} object${objects.length === 1 ? "" : "s"}`),
          h("thead", {}, h("tr", {}, ["Source", "Kind", "Status", "Documents", "Error"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, objects.map((o) => h("tr", {},
            h("th", { scope: "row" }, h("a", { href: `#/objects/${enc(name)}/${enc(o.id)}` }, o.metadata.filename || basename(o.source))),
            h("td", {}, o.kind),
            h("td", { class: o.status === "failed" ? "bad" : "" }, o.status),
            h("td", { class: "num" }, o.document_count),
            h("td", {}, o.error || ""),
          )))))
      : h("p", {}, "Nothing ingested yet."),
    h("h2", {}, "Pipeline spec"),
    h("pre", { class: "json", tabindex: "0", "aria-label": "pipeline spec as JSON" }, JSON.stringify(info.spec, null, 2)),
    h("h2", {}, "Features"),
    h("ul", { class: "features" }, info.features.map((f) =>
      h("li", {}, h("code", {}, f.address), ` ${f.type || ""}${f.dim ? ` (${f.dim})` : ""}`))),
  );
}
