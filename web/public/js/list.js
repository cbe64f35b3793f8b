// The list: the filter form, and pages from /api/images as the end of the grid comes into view.
import { renderCard, updateEmpty } from "./cards.js";
import { localDayEnd, localDayStart } from "./format.js";
import { $, api } from "./helpers.js";
import { filters, grid, loadMore, state } from "./state.js";

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

export { loadPage, readFilters, showTakenNote };
