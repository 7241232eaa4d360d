// An object's page: a video's scenes as a thumbnail timeline that plays the moment clicked, with
// the scene's caption, transcript and slide text; a PDF's pages; an image's or text's documents.
//
// A <video> cannot send the Authorization header, so the page asks for a short-lived signed link
// to the media (POST …/media-link) and the player streams it with range requests as it seeks.

import { api, blobUrl, enc, quote } from "./api.js";
import { basename, clear, clock, errorBox, featureLabel, h, place, textFeatures } from "./dom.js";

function start(doc) {
  return doc.start_s ?? doc.page ?? 0;
}

export async function objectPage(main, collection, objectId, params) {
  const base = `/v1/collections/${enc(collection)}`;
  const [object, page] = await Promise.all([
    api(`${base}/objects/${enc(objectId)}`),
    api(`${base}/documents?limit=1000&where=${enc(`object_id = ${quote(objectId)}`)}`),
  ]);
  const docs = page.documents.slice().sort((a, b) => start(a) - start(b) || a.key.localeCompare(b.key));
  const title = object.metadata.filename || basename(object.source);
  const timed = object.kind === "video" || object.kind === "audio";
  const details = h("section", { class: "card", id: "scene", "aria-live": "polite" },
    h("p", {}, docs.length ? "Choose a scene." : "This object has no documents."));
  const player = timed
    ? h(object.kind === "video" ? "video" : "audio", { id: "player", controls: true, preload: "metadata" })
    : null;
  const playerBox = h("div", { class: "player" }, player ? h("p", { class: "loading" }, "Loading media…") : null, player);
  const strip = h("ol", { class: timed ? "timeline" : "pages", id: "timeline", "aria-label": "scenes" });
  let stopped = false;

  function select(doc, button, play) {
    for (const b of strip.querySelectorAll("button[aria-pressed]")) b.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-pressed", "true");
    const texts = textFeatures(doc.features);
    clear(details,
      h("h2", {}, `${timed ? "Scene" : "Part"} ${place(doc)}`),
      texts.length
        ? h("dl", {}, texts.map(([address, value]) => [
            h("dt", {}, featureLabel(address), " ", h("code", { class: "quiet" }, address)),
            h("dd", { class: "text" }, value)]))
        : h("p", {}, "No text for this part."));
    if (player && doc.start_s !== null && doc.start_s !== undefined) {
      player.dataset.sceneStart = doc.start_s;
      player.dataset.sceneEnd = doc.end_s ?? doc.start_s;
      const seek = () => {
        player.currentTime = doc.start_s;
        if (play) player.play().catch(() => {});
      };
      if (player.readyState >= 1) seek();
      else player.addEventListener("loadedmetadata", seek, { once: true });
    }
  }

  const buttons = docs.map((doc) => {
    const label = doc.start_s !== null && doc.start_s !== undefined ? `scene at ${clock(doc.start_s)}` : place(doc);
    const caption = textFeatures(doc.features).find(([a]) => a.endsWith("/caption"));
    const img = h("img", { alt: caption ? caption[1].slice(0, 140) : label, width: 160, height: 90, loading: "lazy" });
    if (doc.thumbnail_url) {
      blobUrl(doc.thumbnail_url).then((url) => { img.src = url; }).catch(() => img.remove());
    } else {
      img.remove();
    }
    const snippet = textFeatures(doc.features)[0];
    const button = h("button", { type: "button", "aria-pressed": "false", "data-doc": doc.id, "data-start": doc.start_s ?? "" },
      doc.thumbnail_url ? img : null,
      h("span", { class: "when" }, place(doc)),
      !timed && snippet ? h("span", { class: "snippet" }, snippet[1].slice(0, 200)) : null);
    button.addEventListener("click", () => select(doc, button, true));
    return [doc, button];
  });
  clear(strip, buttons.map(([, b]) => h("li", {}, b)));

  clear(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/collections" }, "Collections"), " / ",
      h("a", { href: `#/collections/${enc(collection)}` }, collection), " / ", title),
    h("h1", {}, title),
    h("p", {}, `${object.kind} · ${object.status} · ${docs.length} documents`,
      object.error ? [" · ", h("span", { class: "bad" }, object.error)] : null),
    h("div", { class: "browse" }, h("div", {}, playerBox, details), h("div", {}, h("h2", {}, timed ? "Scenes" : "Parts"), strip)),
  );

  if (player && docs.length) {
    api(`${base}/documents/${enc(docs[0].id)}/media-link`, { method: "POST" })
      .then((link) => {
        if (stopped) return;
        player.src = link.url;
        playerBox.querySelector(".loading")?.remove();
      })
      .catch((error) => clear(playerBox, errorBox(error)));
  }

  const wanted = params.get("doc");
  const at = params.has("t") ? Number(params.get("t")) : null;
  const initial = buttons.find(([d]) => d.id === wanted)
    || (at !== null ? buttons.find(([d]) => d.start_s <= at && at < (d.end_s ?? d.start_s)) : null)
    || buttons[0];
  if (initial) select(initial[0], initial[1], Boolean(wanted || at !== null));

  return () => {
    stopped = true;
    if (player) player.pause();
  };
}
