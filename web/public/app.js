// The gallery page. Plain DOM, no framework: every user-controlled string goes through
// textContent (never innerHTML), so a file name cannot become markup.
// The entry module: it imports one module per section (js/, no build step) and starts the page.
import { renderCard } from "./js/cards.js";
import { api, toast } from "./js/helpers.js";
import { loadPage, readFilters } from "./js/list.js";
import { connect, showStats } from "./js/live.js";
import "./js/preview.js";
import { state } from "./js/state.js";
import "./js/uploads.js";

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
