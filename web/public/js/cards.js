// One card per image: rendering, and keeping the grid in the list's order as images come and go.
import {
  dimensions,
  formatBytes,
  formatDuration,
  formatName,
  fullDate,
  isLight,
  localDayEnd,
  localDayStart,
  timeAgo,
  visibleText,
} from "./format.js";
import { $, el, isSafeUrl, svgIcon, WARNING_ICON } from "./helpers.js";
import { openPreview } from "./preview.js";
import { grid, state } from "./state.js";

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
    {
      class: "card-button",
      type: "button",
      "aria-label": `${visibleText(view.name)}${failed ? ", failed" : ""}: details`,
    },
    [
      thumb,
      el("span", { class: "card-text" }, [
        el("span", { class: "name", text: visibleText(view.name), title: visibleText(view.name) }),
        ...lines,
      ]),
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

export { removeCard, renderCard, takenDate, thumbnailImage, updateEmpty, upsert };
