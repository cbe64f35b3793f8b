// The gallery page. Plain DOM, no framework: every user-controlled string goes through
// textContent (never innerHTML), so a file name cannot become markup.

const $ = (id) => document.getElementById(id);

const grid = $("grid");
const filters = $("filters");
const loadMore = $("load-more");
const fileInput = $("file-input");
const dialog = $("preview");

const state = {
  info: { maxBytes: 50 * 1024 * 1024, pageSize: 24 },
  /** imageId → { view, element } for every card shown, uploads in progress included. */
  cards: new Map(),
  /** imageId → processedAt of the version on screen when the upload started. */
  pending: new Map(),
  cursor: undefined,
  exhausted: false,
  loading: false,
  /** Bumped on every filter change, so a slow old page never lands in a new list. */
  generation: 0,
  /** sort: "uploaded" or "taken" (only images with a taken date, by the camera's clock). */
  query: { sort: "uploaded", since: "", until: "", status: "" },
  /** Listed images without a taken date (from /api/stats): the taken order leaves them out. */
  withoutTakenDate: 0,
  previewId: undefined,
};

// ---------------------------------------------------------------- helpers

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function svgIcon(path) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const p = document.createElementNS(ns, "path");
  p.setAttribute("d", path);
  p.setAttribute("fill", "none");
  p.setAttribute("stroke", "currentColor");
  p.setAttribute("stroke-width", "1.8");
  p.setAttribute("stroke-linecap", "round");
  p.setAttribute("stroke-linejoin", "round");
  svg.append(p);
  return svg;
}
const WARNING_ICON = "M12 9v4m0 4h.01M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z";

export function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
function timeAgo(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [30, "day"],
    [12, "month"],
    [Number.POSITIVE_INFINITY, "year"],
  ];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
    value /= size;
  }
  return "";
}
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const fullDate = (iso) => (iso ? absolute.format(new Date(iso)) : "");

function formatDuration(ms) {
  if (ms === undefined || ms === null) return "";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const dimensions = (v) => (v.width && v.height ? `${v.width}×${v.height}` : "");
const formatName = (v) => (v.format ? v.format.toUpperCase() : "");

function toast(message) {
  const node = el("div", { class: "toast", text: message });
  $("toasts").append(node);
  setTimeout(() => node.remove(), 6000);
}

async function api(path, init) {
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body;
}

/** Whether a #rrggbb colour is light: relative luminance (WCAG 2, sRGB) above 0.5. */
function isLight(hex) {
  if (!/^#[0-9a-f]{6}$/i.test(hex ?? "")) return false;
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5;
}

function isSafeUrl(url) {
  try {
    return ["http:", "https:"].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- cards

function srcset(view) {
  return view.thumbnails
    .filter((t) => isSafeUrl(t.url))
    .map((t) => `${t.url} ${t.width}w`)
    .join(", ");
}

function thumbnailImage(view, sizes) {
  const largest = view.thumbnails.at(-1);
  if (!largest || !isSafeUrl(largest.url)) return undefined;
  const img = el("img", {
    alt: "",
    src: view.thumbnails[0].url,
    srcset: srcset(view),
    sizes,
    loading: "lazy",
    decoding: "async",
    width: largest.width,
    height: largest.height,
  });
  // Transparent pixels show a checkerboard, as image editors do; a light image (a white
  // overlay made for a dark desktop) gets a dark one, or it would vanish into the light squares.
  if (view.transparent) img.classList.add("transparent", isLight(view.dominantColor) ? "on-dark" : "on-light");
  const done = () => img.classList.add("loaded");
  img.addEventListener("load", done);
  img.addEventListener("error", done);
  return img;
}

/**
 * The capture time as the camera recorded it: its local time, with the offset when known.
 * Never converted to this browser's zone: a photo taken at 14:03 in Tokyo was taken at 14:03.
 */
function takenDate(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2})?(Z|[+-]\d{2}:\d{2})?$/.exec(iso);
  if (!match) return iso;
  const [, y, mo, d, h, mi, zone] = match;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).toLocaleDateString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  });
  return `${day}, ${h}:${mi}${zone ? ` (UTC${zone === "Z" ? "" : zone})` : ""}`;
}

function exposure(capture) {
  const parts = [];
  if (capture.exposureTime)
    parts.push(capture.exposureTime >= 1 ? `${capture.exposureTime} s` : `1/${Math.round(1 / capture.exposureTime)} s`);
  if (capture.fNumber) parts.push(`f/${capture.fNumber}`);
  if (capture.iso) parts.push(`ISO ${capture.iso}`);
  if (capture.focalLength) parts.push(`${capture.focalLength} mm`);
  return parts.join(" · ");
}

function location(capture) {
  if (typeof capture.latitude === "number" && typeof capture.longitude === "number")
    return `${capture.latitude.toFixed(5)}, ${capture.longitude.toFixed(5)}`;
  return capture.gpsPresent ? "in the file, not recorded (RECORD_GPS=false)" : "";
}

function renderCard(view) {
  const failed = view.status === "FAILED";
  const thumb = el("span", { class: "thumb" });
  // The dominant colour, computed by the worker, stands in while the thumbnail loads.
  if (view.dominantColor && /^#[0-9a-f]{6}$/i.test(view.dominantColor)) thumb.style.background = view.dominantColor;
  if (failed) {
    thumb.append(svgIcon(WARNING_ICON), el("span", { class: "badge failed", text: "Failed" }));
  } else {
    const img = thumbnailImage(view, "(max-width: 480px) 100vw, (max-width: 900px) 50vw, 260px");
    if (img) thumb.append(img);
  }

  const lines = failed
    ? [
        el("span", { class: "line", text: [formatBytes(view.bytes), view.errorCode].filter(Boolean).join(" · ") }),
        el("span", { class: "line reason", text: view.errorMessage ?? "Processing failed" }),
      ]
    : [
        el("span", {
          class: "line",
          text: [dimensions(view), formatBytes(view.bytes), formatName(view)].filter(Boolean).join(" · "),
        }),
        el("span", {
          class: "line",
          text: `${timeAgo(view.uploadDate)} · took ${formatDuration(view.processingMs)}`,
          title: `Uploaded ${fullDate(view.uploadDate)}, processed in ${formatDuration(view.processingMs)}`,
        }),
        ...(view.takenAt
          ? [el("span", { class: "line taken", text: `Taken ${takenDate(view.takenAt)}`, title: view.takenAt })]
          : []),
      ];
  const button = el(
    "button",
    { class: "card-button", type: "button", "aria-label": `${view.name}${failed ? ", failed" : ""}: details` },
    [
      thumb,
      el("span", { class: "card-text" }, [el("span", { class: "name", text: view.name, title: view.name }), ...lines]),
    ],
  );
  button.addEventListener("click", () => openPreview(view.imageId));
  const card = el(
    "li",
    { class: `card${failed ? " failed" : ""}`, "data-id": view.imageId, "data-status": view.status },
    [button],
  );
  return card;
}

function matchesFilter(view) {
  const { sort, since, until, status } = state.query;
  if (status && view.status !== status) return false;
  if (sort === "taken") {
    // takenAt is the camera's clock ("2024-05-01T14:03:22", maybe an offset): compare its day.
    if (!view.takenAt) return false;
    const day = view.takenAt.slice(0, 10);
    return !(since && day < since) && !(until && day > until);
  }
  if (since && view.uploadDate < localDayStart(since)) return false;
  if (until && view.uploadDate > localDayEnd(until)) return false;
  return true;
}

/** The value the list is ordered by, as the API orders it (string order, newest first). */
function sortValue(view) {
  return state.query.sort === "taken" ? (view.takenAt ?? "") : view.uploadDate;
}

/** Inserts or replaces a card, keeping the grid newest first. */
function upsert(view) {
  const existing = state.cards.get(view.imageId);
  if (!matchesFilter(view)) {
    if (existing) removeCard(view.imageId);
    return;
  }
  const card = renderCard(view);
  if (existing) existing.element.remove();
  const next = [...grid.children].find((node) => {
    const other = state.cards.get(node.dataset.id);
    return other?.view && !other.pendingUpload && sortValue(other.view) < sortValue(view);
  });
  // Older than everything loaded while more pages remain: it arrives with its page.
  if (!next && !state.exhausted && !existing) return;
  grid.insertBefore(card, next ?? null);
  state.cards.set(view.imageId, { view, element: card });
  updateEmpty();
}

function removeCard(imageId) {
  state.cards.get(imageId)?.element.remove();
  state.cards.delete(imageId);
  updateEmpty();
}

function updateEmpty() {
  const empty = state.cards.size === 0 && state.exhausted;
  $("empty").hidden = !empty;
  const filtered = Boolean(
    state.query.since || state.query.until || state.query.status || state.query.sort === "taken",
  );
  $("empty-title").textContent = filtered ? "No images match these filters" : "No images yet";
  $("empty-text").hidden = filtered;
  $("end").hidden = !state.exhausted || state.cards.size === 0;
  $("end").textContent = `${state.cards.size} image${state.cards.size === 1 ? "" : "s"}, that is all.`;
}

// ---------------------------------------------------------------- list and paging

function localDayStart(date) {
  return new Date(`${date}T00:00:00`).toISOString();
}
function localDayEnd(date) {
  return new Date(`${date}T23:59:59.999`).toISOString();
}

async function loadPage() {
  if (state.loading || state.exhausted) return;
  state.loading = true;
  const generation = state.generation;
  const params = new URLSearchParams({ limit: String(state.info.pageSize) });
  if (state.query.sort === "taken") {
    // Taken dates are the camera's clock: the days go as they are.
    params.set("sort", "taken");
    if (state.query.since) params.set("since", state.query.since);
    if (state.query.until) params.set("until", state.query.until);
  } else {
    // The date inputs are local days; the API takes instants.
    if (state.query.since) params.set("since", localDayStart(state.query.since));
    if (state.query.until) params.set("until", localDayEnd(state.query.until));
  }
  if (state.query.status) params.set("status", state.query.status);
  if (state.cursor) params.set("cursor", state.cursor);
  try {
    const page = await api(`/api/images?${params}`);
    if (generation !== state.generation) return;
    $("filter-error").textContent = "";
    state.cursor = page.nextCursor;
    state.exhausted = !page.nextCursor;
    for (const view of page.items) {
      if (state.cards.get(view.imageId)?.pendingUpload) continue;
      const card = renderCard(view);
      state.cards.get(view.imageId)?.element.remove();
      grid.append(card);
      state.cards.set(view.imageId, { view, element: card });
    }
  } catch (error) {
    if (generation !== state.generation) return;
    $("filter-error").textContent = error.message;
    state.exhausted = true;
  } finally {
    if (generation === state.generation) state.loading = false;
    loadMore.hidden = state.exhausted;
    updateEmpty();
  }
  // A tall window may show the sentinel again at once.
  if (!state.exhausted && sentinelVisible) loadPage();
}

function resetList() {
  state.generation++;
  state.loading = false;
  state.cursor = undefined;
  state.exhausted = false;
  for (const [id, card] of state.cards) {
    if (card.pendingUpload) continue;
    card.element.remove();
    state.cards.delete(id);
  }
  loadPage();
}

let sentinelVisible = false;
new IntersectionObserver(
  (entries) => {
    sentinelVisible = entries.some((e) => e.isIntersecting);
    if (sentinelVisible) loadPage();
  },
  { rootMargin: "600px" },
).observe($("more"));
loadMore.addEventListener("click", () => loadPage());

function readFilters() {
  const data = new FormData(filters);
  state.query = {
    sort: String(data.get("sort") ?? "uploaded"),
    since: String(data.get("since") ?? ""),
    until: String(data.get("until") ?? ""),
    status: String(data.get("status") ?? ""),
  };
}
filters.addEventListener("change", () => {
  readFilters();
  showTakenNote();
  resetList();
});

/** In the taken order, says how many images it leaves out for want of a taken date. */
function showTakenNote() {
  const note = $("taken-note");
  const n = state.withoutTakenDate;
  note.hidden = state.query.sort !== "taken" || n === 0;
  note.textContent = `${n} image${n === 1 ? " has" : "s have"} no taken date and ${n === 1 ? "is" : "are"} not in this order.`;
}
filters.addEventListener("submit", (event) => event.preventDefault());
filters.addEventListener("reset", () =>
  setTimeout(() => {
    readFilters();
    showTakenNote();
    resetList();
  }),
);

// ---------------------------------------------------------------- stats and live updates

function showStats(stats) {
  $("count-processed").textContent = String(stats.counts?.PROCESSED ?? 0);
  $("count-failed").textContent = String(stats.counts?.FAILED ?? 0);
  state.withoutTakenDate = stats.counts?.withoutTakenDate ?? 0;
  showTakenNote();
  $("queue-waiting").textContent = stats.queue ? String(stats.queue.waiting) : "–";
  $("queue-inflight").textContent = stats.queue ? String(stats.queue.inFlight) : "–";
  const dead = stats.deadLetters?.waiting ?? 0;
  $("dead-letters").textContent = stats.deadLetters ? String(dead) : "–";
  $("dead-letters-item").classList.toggle("alert", dead > 0);
}

function onImage(view) {
  const since = state.pending.get(view.imageId);
  if (since !== undefined && view.processedAt !== since) {
    state.pending.delete(view.imageId);
    state.cards.get(view.imageId)?.element.remove();
    state.cards.delete(view.imageId);
    if (view.status === "FAILED")
      toast(`${view.name} failed: ${view.errorMessage ?? view.errorCode ?? "unknown reason"}`);
  } else if (since !== undefined) {
    return;
  }
  upsert(view);
  if (state.previewId === view.imageId && dialog.open) openPreview(view.imageId);
}

/** An image deleted from S3 (a `removed` event): its card goes, and its preview closes. */
function onRemoved({ imageId }) {
  const card = state.cards.get(imageId);
  // A card this page is still uploading is not the deleted object's.
  if (!card || card.pendingUpload) return;
  state.pending.delete(imageId);
  if (state.previewId === imageId && dialog.open) dialog.close();
  removeCard(imageId);
}

function connect() {
  const events = new EventSource("/api/events");
  const badge = $("connection");
  events.addEventListener("open", () => {
    badge.textContent = "live";
    badge.classList.add("live");
  });
  events.addEventListener("error", () => {
    badge.textContent = "reconnecting…";
    badge.classList.remove("live");
  });
  events.addEventListener("image", (event) => onImage(JSON.parse(event.data)));
  events.addEventListener("removed", (event) => onRemoved(JSON.parse(event.data)));
  events.addEventListener("stats", (event) => showStats(JSON.parse(event.data)));
}

// The change feed looks back a limited time; uploads of this page are also asked for directly.
setInterval(async () => {
  for (const imageId of state.pending.keys()) {
    if (!state.cards.get(imageId)?.uploaded) continue;
    try {
      const upload = await api(`/api/uploads/${imageId}`);
      if (upload.status !== "PENDING") onImage(upload);
    } catch {
      // A hiccup: the next round asks again.
    }
  }
}, 4000);

// ---------------------------------------------------------------- uploads

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
      el("span", { class: "card-text" }, [el("span", { class: "name", text: file.name, title: file.name }), status]),
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
    toast(`${file.name}: ${message}`);
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

// ---------------------------------------------------------------- preview

function metaRow(list, term, value) {
  if (value === undefined || value === null || value === "") return;
  list.append(el("dt", { text: term }), el("dd", { text: String(value) }));
}

async function openPreview(imageId) {
  state.previewId = imageId;
  let view;
  try {
    view = await api(`/api/images/${encodeURIComponent(imageId)}`);
  } catch (error) {
    toast(error.message);
    return;
  }
  if (state.previewId !== imageId) return;
  $("preview-name").textContent = view.name;
  const holder = $("preview-img").parentElement;
  holder.style.background = /^#[0-9a-f]{6}$/i.test(view.dominantColor ?? "") ? view.dominantColor : "";
  const img = thumbnailImage(view, "(max-width: 720px) 100vw, 700px");
  if (img) {
    img.id = "preview-img";
    img.loading = "eager";
    img.classList.add("loaded");
    img.alt = view.name;
    $("preview-img").replaceWith(img);
  } else {
    // No thumbnail (the image failed): a sign instead of an empty frame.
    const sign = el("div", { id: "preview-img", class: "no-image" }, [
      svgIcon(WARNING_ICON),
      el("span", { text: "No preview: the image could not be processed" }),
    ]);
    $("preview-img").replaceWith(sign);
  }
  const error = $("preview-error");
  error.hidden = view.status !== "FAILED";
  error.textContent =
    view.status === "FAILED" ? `${view.errorCode ?? "FAILED"}: ${view.errorMessage ?? "processing failed"}` : "";

  const meta = $("preview-meta");
  meta.replaceChildren();
  metaRow(meta, "Status", view.status === "PROCESSED" ? "Processed" : "Failed");
  metaRow(meta, "Dimensions", dimensions(view));
  metaRow(meta, "Format", formatName(view));
  metaRow(meta, "Content-Type", view.contentType);
  metaRow(
    meta,
    "Size",
    view.bytes !== undefined ? `${formatBytes(view.bytes)} (${view.bytes.toLocaleString()} bytes)` : "",
  );
  const capture = view.capture ?? {};
  metaRow(meta, "Taken", view.takenAt ? takenDate(view.takenAt) : "");
  metaRow(meta, "Camera", [capture.make, capture.model].filter(Boolean).join(" "));
  metaRow(meta, "Lens", capture.lens);
  metaRow(meta, "Exposure", exposure(capture));
  metaRow(meta, "Location", location(capture));
  metaRow(meta, "Uploaded", fullDate(view.uploadDate));
  metaRow(meta, "Processed", fullDate(view.processedAt));
  metaRow(meta, "Processing time", formatDuration(view.processingMs));
  metaRow(meta, "Dominant colour", view.dominantColor);
  metaRow(
    meta,
    "Thumbnails",
    view.thumbnails.map((t) => `${t.width}×${t.height} ${formatBytes(t.bytes)}`).join(", ") || "none",
  );
  metaRow(meta, "Decoder said", view.errorDetail);
  metaRow(meta, "Image id", view.imageId);

  const original = $("preview-original");
  if (view.originalUrl && isSafeUrl(view.originalUrl)) {
    original.href = view.originalUrl;
    original.hidden = false;
  } else {
    original.hidden = true;
  }
  if (!dialog.open) dialog.showModal();
}

function step(direction) {
  const ids = [...grid.children].map((node) => node.dataset.id).filter((id) => state.cards.get(id)?.view);
  const index = ids.indexOf(state.previewId);
  const next = ids[index + direction];
  if (index >= 0 && next) openPreview(next);
}

$("preview-close").addEventListener("click", () => dialog.close());
dialog.addEventListener("click", (event) => {
  // A click on the backdrop lands on the dialog element itself.
  if (event.target === dialog) dialog.close();
});
dialog.addEventListener("keydown", (event) => {
  if (event.key === "ArrowRight") step(1);
  if (event.key === "ArrowLeft") step(-1);
});
dialog.addEventListener("close", () => {
  const card = grid.querySelector(`[data-id="${CSS.escape(state.previewId ?? "")}"] .card-button`);
  state.previewId = undefined;
  card?.focus();
});

// ---------------------------------------------------------------- start

// Relative times drift; refresh them once a minute.
setInterval(() => {
  for (const { view, element } of state.cards.values()) {
    // Re-rendering the focused card would drop keyboard focus.
    if (view && !element.contains(document.activeElement)) {
      const fresh = renderCard(view);
      element.replaceWith(fresh);
      state.cards.set(view.imageId, { view, element: fresh });
    }
  }
}, 60_000);

(async () => {
  try {
    state.info = { ...state.info, ...(await api("/api/info")) };
  } catch (error) {
    toast(`The gallery API is not answering: ${error.message}`);
  }
  readFilters();
  loadPage();
  api("/api/stats").then(showStats, () => {});
  connect();
})();
