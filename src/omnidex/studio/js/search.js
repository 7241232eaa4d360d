// Search: a query over a collection (its default retriever) or a saved retriever (with the
// explain panel: each stage's time and candidates, each hit's scores per stage), by text, by an
// image dropped or picked, or both fused; results grouped by source with thumbnails and time
// ranges; a hit opens its moment on the object's page.

import { api, blobUrl, enc, quote } from "./api.js";
import { basename, clear, errorBox, h, place } from "./dom.js";
import { dataUrl, imageQuery } from "./imagequery.js";

export async function searchPage(main, params) {
  const [collections, retrievers] = await Promise.all([api("/v1/collections"), api("/v1/retrievers")]);
  const target = h("select", { id: "search-target", name: "target" },
    h("optgroup", { label: "Collections" }, collections.map((c) => h("option", { value: `c:${c.name}` }, c.name))),
    h("optgroup", { label: "Saved retrievers" }, retrievers.map((r) => h("option", { value: `r:${r.name}` }, r.name))));
  if (params.get("target")) target.value = params.get("target");
  const query = h("input", { id: "search-query", name: "query", type: "search", value: params.get("q") || "" });
  const where = h("input", { id: "search-where", name: "where", placeholder: "speaker = 'ann' and start_s >= 60" });
  const k = h("input", { id: "search-k", name: "k", type: "number", min: "1", max: "100", value: "10" });
  const image = imageQuery();
  const results = h("section", { id: "results", "aria-live": "polite", "aria-label": "results" });
  const form = h("form", { class: "card search", role: "search" },
    h("div", { class: "field" }, h("label", { for: "search-target" }, "Search in"), target),
    h("div", { class: "field grow" }, h("label", { for: "search-query" }, "Query"), query),
    h("div", { class: "field grow" }, h("label", { for: "search-where" }, "Filter (where, collections only)"), where),
    h("div", { class: "field" }, h("label", { for: "search-k" }, "Results"), k),
    h("button", { type: "submit" }, "Search"),
    image.node);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = query.value.trim();
    if (!text && !image.file) {
      clear(results, h("p", { class: "error", role: "alert" }, "Type a query, or drop or choose an image."));
      return;
    }
    clear(results, h("p", { class: "loading" }, "Searching…"));
    const [kind, name] = [target.value.slice(0, 1), target.value.slice(2)];
    try {
      if (kind === "c") {
        const fields = { k: String(Number(k.value) || 10) };
        if (text) fields.query = text;
        if (where.value.trim()) fields.where = where.value.trim();
        const path = `/v1/collections/${enc(name)}/search/explain`;
        const result = image.file
          ? await api(path, { method: "POST", body: searchForm(fields, image.file) })
          : await api(path, { method: "POST", json: { ...fields, k: Number(fields.k) } });
        await renderResults(results, result.hits, name, result);
      } else {
        const info = retrievers.find((r) => r.name === name);
        const result = await api(`/v1/retrievers/${enc(name)}/explain`,
          { method: "POST", json: { inputs: await retrieverInputs(info.spec, text, image.file) } });
        await renderResults(results, result.hits, info.spec.collections[0], result);
      }
    } catch (error) {
      clear(results, errorBox(error));
    }
  });
  clear(main, h("h1", {}, "Search"), collections.length ? form : h("p", {}, "No collections yet."), results);
  if (query.value) form.requestSubmit();
  return null;
}

/** A multipart search: the text fields and the image file. */
function searchForm(fields, file) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("image", file, file.name);
  return form;
}

/** A retriever's inputs: the text in its text input, the image (base64) in its image input. */
async function retrieverInputs(spec, text, file) {
  const inputs = {};
  if (text) inputs[inputOfType(spec, "text") || "query"] = text;
  if (file) {
    const name = inputOfType(spec, "image");
    if (!name) throw new Error("this retriever takes no image input: search a collection, or remove the image");
    inputs[name] = await dataUrl(file);
  }
  return inputs;
}

/** The name of a retriever's first input of `type` (inputs without a type are text). */
export function inputOfType(spec, type) {
  const entry = Object.entries(spec.inputs || {}).find(([, input]) => (input.type || "text") === type);
  return entry ? entry[0] : null;
}

/** Hits grouped by source object, with thumbnails; `explained` adds the explain panel. */
export async function renderResults(box, hits, defaultCollection, explained) {
  if (!hits.length) {
    clear(box, h("p", {}, "No hits."), explained ? explainPanel(explained) : null);
    return;
  }
  const docs = await documentsOf(hits, defaultCollection);
  const groups = new Map();
  for (const hit of hits) {
    const collection = hit.collection || defaultCollection;
    const key = `${collection}/${hit.object_id}`;
    if (!groups.has(key)) groups.set(key, { collection, hit, hits: [] });
    groups.get(key).hits.push(hit);
  }
  clear(box,
    h("h2", {}, `${hits.length} hit${hits.length === 1 ? "" : "s"} in ${groups.size} source${groups.size === 1 ? "" : "s"}`),
    h("ol", { class: "groups" }, [...groups.values()].map((group) => h("li", { class: "group" },
      h("h3", {}, basename(group.hit.source), h("span", { class: "quiet" }, ` · ${group.collection}`)),
      h("ol", { class: "hits" }, group.hits.flatMap((hit) => moments(hit)).map(([hit, moment]) =>
        h("li", {}, hitCard(group.collection, hit, moment, docs.get(moment.ids?.[0] || hit.id)))))))),
    explained ? explainPanel(explained) : null);
}

function moments(hit) {
  if (hit.moments && hit.moments.length) return hit.moments.map((m) => [hit, m]);
  return [[hit, hit]];
}

function hitCard(collection, hit, moment, doc) {
  const where = place(moment);
  const params = new URLSearchParams({ doc: (moment.ids && moment.ids[0]) || hit.id });
  if (moment.start_s !== null && moment.start_s !== undefined) params.set("t", String(moment.start_s));
  const href = `#/objects/${enc(collection)}/${enc(hit.object_id)}?${params}`;
  const img = doc && doc.thumbnail_url
    ? h("img", { alt: moment.snippet ? moment.snippet.slice(0, 140) : `scene at ${where}`, width: 160, height: 90 })
    : null;
  if (img) blobUrl(doc.thumbnail_url).then((url) => { img.src = url; }).catch(() => img.remove());
  const scores = Object.entries(hit.provenance || {});
  return h("article", { class: "hit" },
    h("a", { href, class: "open", "data-hit": hit.id }, img, h("span", { class: "when" }, `Open ${where}`)),
    h("div", {},
      h("p", { class: "snippet" }, moment.snippet || hit.snippet || ""),
      h("p", { class: "quiet" }, `score ${hit.score.toFixed(4)}`,
        hit.matched && hit.matched.length ? ` · matched ${hit.matched.join(", ")}` : ""),
      scores.length ? h("details", {}, h("summary", {}, "Scores per stage"),
        h("ul", {}, scores.map(([stage, s]) => h("li", {}, h("code", {}, stage), ` ${s.score.toFixed(4)} (rank ${s.rank})`)))) : null));
}

function explainPanel(result) {
  return h("section", { class: "card explain", "aria-label": "explain" },
    h("h2", {}, `Explain · ${result.total_ms.toFixed(1)} ms`),
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Stage", "Type", "ms", "In", "Out", "Notes"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, result.stages.map((s) => h("tr", {},
        h("th", { scope: "row" }, s.id), h("td", {}, s.type), h("td", { class: "num" }, s.ms.toFixed(2)),
        h("td", { class: "num" }, s.candidates_in), h("td", { class: "num" }, s.candidates_out),
        h("td", {}, (s.notes || []).join("; "))))))));
}

/** The hits' documents (for thumbnails), 40 ids per request. */
async function documentsOf(hits, defaultCollection) {
  const ids = new Map();
  for (const hit of hits) {
    const collection = hit.collection || defaultCollection;
    if (!ids.has(collection)) ids.set(collection, new Set());
    ids.get(collection).add(hit.id);
    for (const m of hit.moments || []) if (m.ids && m.ids[0]) ids.get(collection).add(m.ids[0]);
  }
  const docs = new Map();
  const requests = [];
  for (const [collection, set] of ids) {
    const all = [...set];
    for (let i = 0; i < all.length; i += 40) requests.push([collection, all.slice(i, i + 40)]);
  }
  await Promise.all(requests.map(async ([collection, list]) => {
    const where = `id in (${list.map(quote).join(", ")})`;
    try {
      const page = await api(`/v1/collections/${enc(collection)}/documents?limit=${list.length}&where=${enc(where)}`);
      for (const doc of page.documents) docs.set(doc.id, doc);
    } catch {
      // thumbnails are a nicety: the hits show without them
    }
  }));
  return docs;
}
