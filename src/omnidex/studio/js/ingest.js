// Ingest: upload (file input or drag and drop), URL ingest, and the task list, polled live.

import { api, enc } from "./api.js";
import { announce, clear, errorBox, h } from "./dom.js";

const POLL_MS = 1000;

export async function ingestPage(main, params) {
  const collections = await api("/v1/collections");
  if (!collections.length) {
    clear(main, h("h1", {}, "Ingest"), h("p", {}, "Create a collection first: ",
      h("a", { href: "#/collections" }, "Collections"), "."));
    return null;
  }
  const names = new Map(collections.map((c) => [c.id, c.name]));
  const chosen = params.get("collection") || collections[0].name;
  const select = h("select", { id: "ingest-collection", name: "collection" },
    collections.map((c) => h("option", { value: c.name }, c.name)));
  select.value = chosen;
  const feedback = h("div", { id: "ingest-feedback", "aria-live": "polite" });
  const metadata = h("textarea", { id: "ingest-metadata", rows: 2, placeholder: '{"speaker": "ann"}' });
  const fileInput = h("input", { id: "ingest-file", type: "file", multiple: true });
  const drop = h("div", { class: "drop", id: "drop-zone" },
    h("p", {}, "Drop files here, or "),
    h("label", { for: "ingest-file", class: "button" }, "Choose files"), fileInput);
  const urlInput = h("input", { id: "ingest-url", type: "url", placeholder: "https://example.com/talk.mp4" });
  const tasksBox = h("div", { id: "tasks", class: "scroll" });

  function meta() {
    const raw = metadata.value.trim();
    if (!raw) return null;
    JSON.parse(raw); // throws a SyntaxError the caller shows
    return raw;
  }

  async function upload(files) {
    clear(feedback);
    for (const file of files) {
      try {
        const form = new FormData();
        form.append("file", file, file.name);
        const extra = meta();
        if (extra) form.append("metadata", extra);
        await api(`/v1/collections/${enc(select.value)}/objects`, { method: "POST", body: form });
        feedback.append(h("p", { class: "ok" }, `Queued ${file.name}`));
        announce(`Queued ${file.name}`);
      } catch (error) {
        feedback.append(errorBox(error));
      }
    }
    poll();
  }

  fileInput.addEventListener("change", () => {
    upload([...fileInput.files]);
    fileInput.value = "";
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    upload([...event.dataTransfer.files]);
  });

  const urlForm = h("form", { id: "url-form" },
    h("label", { for: "ingest-url" }, "Or a URL (http, https, s3, gs)"),
    h("div", { class: "row" }, urlInput, h("button", { type: "submit" }, "Ingest URL")));
  urlForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(feedback);
    try {
      const raw = meta();
      await api(`/v1/collections/${enc(select.value)}/objects/url`, {
        method: "POST",
        json: { url: urlInput.value.trim(), metadata: raw ? JSON.parse(raw) : {} },
      });
      feedback.append(h("p", { class: "ok" }, `Queued ${urlInput.value}`));
      urlInput.value = "";
    } catch (error) {
      feedback.append(errorBox(error));
    }
    poll();
  });

  clear(
    main,
    h("h1", {}, "Ingest"),
    h("section", { class: "card" },
      h("label", { for: "ingest-collection" }, "Collection"), select,
      h("label", { for: "ingest-metadata" }, "Metadata (JSON, optional)"), metadata,
      drop, urlForm, feedback),
    h("h2", {}, "Tasks"),
    tasksBox,
  );

  let timer = null;
  let stopped = false;

  async function act(task, verb) {
    try {
      await api(`/v1/tasks/${enc(task.id)}/${verb}`, { method: "POST" });
      announce(`${verb} sent for task ${task.id}`);
    } catch (error) {
      feedback.append(errorBox(error));
    }
    poll();
  }

  async function poll() {
    clearTimeout(timer);
    if (stopped) return;
    try {
      const tasks = await api("/v1/tasks?limit=50");
      if (stopped) return;
      renderTasks(tasksBox, tasks, names, act);
    } catch (error) {
      clear(tasksBox, errorBox(error));
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }
  await poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function renderTasks(box, tasks, names, act) {
  if (!tasks.length) {
    clear(box, h("p", {}, "No tasks yet."));
    return;
  }
  const focused = document.activeElement && box.contains(document.activeElement)
    ? document.activeElement.dataset.action
    : null;
  clear(box, h("table", { class: "tasks" },
    h("thead", {}, h("tr", {},
      ["Collection", "Task", "State", "Stage", "Progress", "Attempts", "Error", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, tasks.map((task) => {
      const collection = names.get(task.collection_id) || task.collection_id;
      const pct = Math.round((task.progress || 0) * 100);
      const actions = [];
      if (task.state === "failed" || task.state === "canceled") {
        actions.push(h("button", { type: "button", "data-action": `retry-${task.id}`, onclick: () => act(task, "retry") }, "Retry"));
      }
      if (task.state === "queued") {
        actions.push(h("button", { type: "button", "data-action": `cancel-${task.id}`, onclick: () => act(task, "cancel") }, "Cancel"));
      }
      return h("tr", { "data-task": task.id, "data-state": task.state },
        h("td", {}, collection),
        h("td", {}, task.object_id
          ? h("a", { href: `#/objects/${enc(collection)}/${enc(task.object_id)}` }, task.id.slice(0, 13))
          : task.id.slice(0, 13)),
        h("td", { class: `state ${task.state}` }, task.state),
        h("td", {}, task.stage || ""),
        h("td", {}, h("progress", { max: 100, value: pct, "aria-label": `task ${task.id.slice(0, 13)} progress` }), ` ${pct}%`),
        h("td", { class: "num" }, `${task.attempts}/${task.max_attempts}`),
        h("td", { class: "bad" }, task.error ? `${task.error_code ? task.error_code + ": " : ""}${task.error}` : ""),
        h("td", {}, actions));
    }))));
  if (focused) {
    const again = box.querySelector(`[data-action="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}
