// What the sections share: the page's fixed elements and the one mutable state object (the
// cards shown, uploads pending, the query, the cursor).
import { $ } from "./helpers.js";

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

export { dialog, fileInput, filters, grid, loadMore, state };
