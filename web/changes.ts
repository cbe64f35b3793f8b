import type { Clients } from "../src/aws/clients.ts";
import type { Config } from "../src/config.ts";
import { errorMessage } from "../src/errors.ts";
import type { Logger } from "../src/logger.ts";
import { getImageItem, type ImageItem, ImageStatus } from "../src/store/metadata.ts";
import { allImages } from "../src/store/query.ts";
import type { Stats } from "./stats.ts";

/**
 * What the feed pushes: `image` when an image appears or changes (a new processedAt), `removed`
 * when a shown image was deleted from S3 (its item became a DELETED tombstone, or is gone),
 * `stats` when counts or queue depths move.
 */
export type ChangeEvent =
  | { type: "image"; item: ImageItem }
  | { type: "removed"; imageId: string }
  | { type: "stats"; stats: Stats };
export type Listener = (event: ChangeEvent) => void;

export interface ChangeFeedOptions {
  config: Config;
  clients: Clients;
  logger: Logger;
  stats: () => Promise<Stats>;
  pollMs?: number;
  /**
   * How far back (by upload date) a poll looks for new results. An image is indexed by
   * when it was uploaded, not when it was processed, so a backlog needs a window.
   */
  lookbackMs?: number;
}

const MAX_PAGES = 5;

/**
 * One poller shared by every open page: DynamoDB has no change stream on the emulators
 * (and a Streams + Lambda setup is overkill for a gallery), so the server polls the index
 * while anyone is listening and pushes what changed.
 */
export function createChangeFeed({
  config,
  clients,
  logger,
  stats,
  pollMs = 1500,
  lookbackMs = 3_600_000,
}: ChangeFeedOptions) {
  const listeners = new Set<Listener>();
  /** imageId → processedAt of the version last seen; a re-upload changes processedAt. */
  let seen: Map<string, string> | undefined;
  let lastStats = "";
  let timer: NodeJS.Timeout | undefined;

  async function poll(): Promise<void> {
    const since = new Date(Date.now() - lookbackMs).toISOString();
    const items = await allImages(config, clients, { since }, MAX_PAGES);
    const current = new Map(items.map((item) => [item.imageId, item]));
    const first = seen === undefined;
    const previous = seen ?? new Map<string, string>();
    seen = new Map([...current].map(([id, item]) => [id, item.processedAt]));
    // The first poll only sets the baseline: a page loads the list itself when it connects.
    if (!first) {
      const changed = [...current.values()].filter((item) => previous.get(item.imageId) !== item.processedAt);
      // Oldest first, so that a page inserting each at the top ends up newest first.
      changed.sort((a, b) => (a.uploadDate < b.uploadDate ? -1 : 1));
      for (const item of changed) emit({ type: "image", item });
      for (const imageId of await removed([...previous.keys()].filter((id) => !current.has(id)))) {
        emit({ type: "removed", imageId });
      }
    }
    const s = await stats();
    const { at: _at, ...comparable } = s;
    const key = JSON.stringify(comparable);
    if (key !== lastStats) {
      lastStats = key;
      emit({ type: "stats", stats: s });
    }
  }

  /**
   * Of the ids that left the poll's window, those deleted: a tombstone (DELETED) has no
   * listShard, so it leaves the byUploadDate index. An id can also leave only because its
   * upload date fell out of the lookback window (or past MAX_PAGES), so each is read
   * (consistently) before the page is told to drop it; each is read once, as it leaves.
   */
  async function removed(gone: string[]): Promise<string[]> {
    const items = await Promise.all(gone.map((id) => getImageItem(clients, config.names, id)));
    return gone.filter((_, i) => items[i] === undefined || items[i]?.status === ImageStatus.Deleted);
  }

  function emit(event: ChangeEvent): void {
    for (const listener of listeners) listener(event);
  }

  function schedule(): void {
    timer = setTimeout(async () => {
      try {
        await poll();
      } catch (error) {
        logger.warn("change feed poll failed; retrying", { reason: errorMessage(error) });
      }
      if (listeners.size > 0) schedule();
      else timer = undefined;
    }, pollMs);
    timer.unref();
  }

  return {
    subscribe(listener: Listener): () => void {
      listeners.add(listener);
      // A new page gets the current stats at once; it never saw the last ones.
      if (lastStats)
        void stats().then(
          (s) => listener({ type: "stats", stats: s }),
          () => {},
        );
      // timer stays set while a poll runs, so this never starts a second loop.
      if (!timer) schedule();
      return () => {
        listeners.delete(listener);
      };
    },
    close(): void {
      listeners.clear();
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

export type ChangeFeed = ReturnType<typeof createChangeFeed>;
