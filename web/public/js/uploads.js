// Uploads from the file input or a drop: a ticket from /api/uploads, then a presigned POST straight
// to S3, with progress on the card.
import { updateEmpty } from "./cards.js";
import { formatBytes, visibleText } from "./format.js";
import { $, api, el, svgIcon, toast, WARNING_ICON } from "./helpers.js";
import { fileInput, grid, state } from "./state.js";

const EXTENSION_TYPES = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  tif: "image/tiff",
  tiff: "image/tiff",
  heic: "image/heic",
  heif: "image/heif",
};

function contentTypeOf(file) {
  if (file.type) return file.type;
  return EXTENSION_TYPES[file.name.split(".").pop()?.toLowerCase() ?? ""] ?? "";
}

function pendingCard(file, preview) {
  const bar = el("span");
  const status = el("span", { class: "line", text: `${formatBytes(file.size)} · waiting…` });
  const thumb = el("span", { class: "thumb" }, [el("span", { class: "badge processing", text: "Uploading" })]);
  if (preview) {
    const img = el("img", { alt: "", src: preview, class: "loaded" });
    thumb.prepend(img);
  }
  thumb.append(el("span", { class: "progress" }, [bar]));
  const card = el("li", { class: "card pending", "data-status": "UPLOADING" }, [
    el("div", { class: "card-button" }, [
      thumb,
      el("span", { class: "card-text" }, [
        el("span", { class: "name", text: visibleText(file.name), title: visibleText(file.name) }),
        status,
      ]),
    ]),
  ]);
  return {
    card,
    progress(fraction) {
      bar.style.width = `${Math.round(fraction * 100)}%`;
      status.textContent = `${formatBytes(file.size)} · uploading ${Math.round(fraction * 100)}%`;
    },
    processing() {
      card.classList.add("processing");
      bar.style.width = "";
      card.dataset.status = "PROCESSING";
      thumb.querySelector(".badge").textContent = "Processing";
      status.textContent = `${formatBytes(file.size)} · processing…`;
    },
    failed(message) {
      card.classList.remove("pending", "processing");
      card.classList.add("failed");
      card.dataset.status = "REJECTED";
      thumb.replaceChildren(svgIcon(WARNING_ICON), el("span", { class: "badge failed", text: "Not uploaded" }));
      status.className = "line reason";
      status.textContent = message;
    },
  };
}

function postToS3(ticket, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
    // S3 ignores every field after the file.
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", ticket.url);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        const code = /<Code>([^<]*)<\/Code>/.exec(xhr.responseText)?.[1];
        reject(new Error(`S3 refused the upload (${xhr.status}${code ? ` ${code}` : ""})`));
      }
    });
    xhr.addEventListener("error", () => reject(new Error("the upload could not reach S3")));
    xhr.send(form);
  });
}

async function upload(file) {
  const preview =
    file.type.startsWith("image/") && file.type !== "image/svg+xml" ? URL.createObjectURL(file) : undefined;
  const ui = pendingCard(file, preview);
  grid.prepend(ui.card);
  $("empty").hidden = true;
  const type = contentTypeOf(file);
  const fail = (message) => {
    ui.failed(message);
    toast(`${visibleText(file.name)}: ${message}`);
    setTimeout(() => {
      ui.card.remove();
      if (preview) URL.revokeObjectURL(preview);
      updateEmpty();
    }, 15_000);
  };
  if (!type.startsWith("image/")) return fail("not an image file");
  if (file.size > state.info.maxBytes) return fail(`larger than the ${formatBytes(state.info.maxBytes)} limit`);
  if (file.size === 0) return fail("the file is empty");
  try {
    const ticket = await api("/api/uploads", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: file.name, type, size: file.size }),
    });
    // A card already showing this name is replaced when the new version is processed.
    const before = state.cards.get(ticket.imageId);
    state.pending.set(ticket.imageId, before?.view?.processedAt ?? null);
    before?.element.remove();
    state.cards.set(ticket.imageId, { element: ui.card, pendingUpload: true });
    ui.card.dataset.id = ticket.imageId;
    ui.progress(0);
    await postToS3(ticket, file, ui.progress);
    state.cards.get(ticket.imageId).uploaded = true;
    ui.processing();
  } catch (error) {
    for (const [id, card] of state.cards) {
      if (card.element === ui.card) {
        state.cards.delete(id);
        state.pending.delete(id);
      }
    }
    fail(error.message);
  }
}

function uploadAll(files) {
  const list = [...files];
  if (list.length === 0) return;
  window.scrollTo({ top: 0, behavior: "smooth" });
  // Newest on top, in the order chosen: prepend in reverse.
  for (const file of list.reverse()) upload(file);
}

$("upload-button").addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", () => {
  uploadAll(fileInput.files);
  fileInput.value = "";
});

let dragDepth = 0;
const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
document.addEventListener("dragenter", (event) => {
  if (!hasFiles(event)) return;
  dragDepth++;
  $("drop").hidden = false;
});
document.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) $("drop").hidden = true;
});
document.addEventListener("dragover", (event) => {
  if (hasFiles(event)) event.preventDefault();
});
document.addEventListener("drop", (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  $("drop").hidden = true;
  uploadAll(event.dataTransfer.files);
});
