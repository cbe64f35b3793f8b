import type { Clients } from "../src/aws/clients.ts";
import { type QueueDepth, queueDepth } from "../src/aws/queues.ts";
import type { Config } from "../src/config.ts";
import { countImages, type StatusCounts } from "../src/store/query.ts";

export interface Stats {
  counts: StatusCounts;
  /** Undefined when the queue does not exist (not bootstrapped yet). */
  queue?: QueueDepth;
  deadLetters?: QueueDepth;
  at: string;
}

/** Counts and queue depths, cached briefly: every open page asks, and counting reads the whole index. */
export function createStatsSource(config: Config, clients: Clients, ttlMs = 2000) {
  let cached: { at: number; value: Promise<Stats> } | undefined;

  async function read(): Promise<Stats> {
    const [counts, queue, deadLetters] = await Promise.all([
      countImages(config, clients),
      queueDepth(clients, config.names.queue),
      queueDepth(clients, config.names.deadLetterQueue),
    ]);
    return { counts, ...(queue && { queue }), ...(deadLetters && { deadLetters }), at: new Date().toISOString() };
  }

  return function stats(): Promise<Stats> {
    if (cached && Date.now() - cached.at < ttlMs) return cached.value;
    const value = read();
    cached = { at: Date.now(), value };
    // A failed read must not be served from the cache.
    value.catch(() => {
      if (cached?.value === value) cached = undefined;
    });
    return value;
  };
}
