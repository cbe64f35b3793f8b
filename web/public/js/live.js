// Live updates from /api/events: counters, images processed or removed; uploads asked after directly.
import { removeCard, upsert } from "./cards.js";
import { visibleText } from "./format.js";
import { $, api, toast } from "./helpers.js";
import { showTakenNote } from "./list.js";
import { openPreview } from "./preview.js";
import { dialog, state } from "./state.js";

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
      toast(`${visibleText(view.name)} failed: ${view.errorMessage ?? view.errorCode ?? "unknown reason"}`);
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

export { connect, showStats };
