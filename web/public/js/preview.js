// The preview dialog: a larger image with all its metadata; ← → step through the grid.
import { takenDate, thumbnailImage } from "./cards.js";
import { dimensions, formatBytes, formatDuration, formatName, fullDate, visibleText } from "./format.js";
import { $, api, el, isSafeUrl, svgIcon, toast, WARNING_ICON } from "./helpers.js";
import { dialog, grid, state } from "./state.js";

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
  $("preview-name").textContent = visibleText(view.name);
  const holder = $("preview-img").parentElement;
  holder.style.background = /^#[0-9a-f]{6}$/i.test(view.dominantColor ?? "") ? view.dominantColor : "";
  const img = thumbnailImage(view, "(max-width: 720px) 100vw, 700px");
  if (img) {
    img.id = "preview-img";
    img.loading = "eager";
    img.classList.add("loaded");
    img.alt = visibleText(view.name);
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

export { openPreview };
