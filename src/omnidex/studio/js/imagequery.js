// The query image of the search page: dropped on its zone or picked with its file input, shown
// as a preview with a button to take it away; search.js sends it with (or instead of) the text.

import { h } from "./dom.js";

/** A drop zone and file input; `.file` is the chosen image (null when none). */
export function imageQuery() {
  const state = { file: null, node: null, clear: null };
  const input = h("input", { id: "search-image", name: "image", type: "file", accept: "image/*" });
  const preview = h("img", { id: "search-image-preview", alt: "", width: 80, height: 60, hidden: true });
  const name = h("span", { class: "quiet", id: "search-image-name" });
  const remove = h("button", { type: "button", class: "quiet", hidden: true }, "Remove image");
  const zone = h("div", { class: "drop image-query", id: "search-image-drop" },
    h("p", {}, "Drop an image here, or "),
    h("label", { for: "search-image", class: "button" }, "Choose an image"), input,
    " ", preview, " ", name, " ", remove);

  function choose(file) {
    if (preview.src) URL.revokeObjectURL(preview.src);
    state.file = file || null;
    preview.hidden = remove.hidden = !state.file;
    name.textContent = state.file ? state.file.name : "";
    if (state.file) {
      preview.src = URL.createObjectURL(state.file);
      preview.alt = `query image ${state.file.name}`;
    } else {
      preview.removeAttribute("src");
    }
  }

  input.addEventListener("change", () => {
    choose(input.files[0]);
    input.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = [...event.dataTransfer.files].find((f) => f.type.startsWith("image/"));
    if (file) choose(file);
  });
  remove.addEventListener("click", () => choose(null));
  state.node = zone;
  state.clear = () => choose(null);
  return state;
}

/** A file as a data: URL (a retriever's image input takes base64 in JSON). */
export function dataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}
