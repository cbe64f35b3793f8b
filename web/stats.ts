import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { Clients } from "../src/clients.ts";
import type { Config } from "../src/config.ts";
import { countImages, type StatusCounts } from "../src/query.ts";
import { queueUrl } from "../src/resources.ts";

export interface QueueDepth {
  /** Waiting to be received. */
  waiting: number;
  /** Received by a worker and not yet deleted. */
  inFlight: number;
}

export interface Stats {
  counts: StatusCounts;
  /** Undefined when the queue does not exist (not bootstrapped yet). */
  queue?: QueueDepth;
  deadLetters?: QueueDepth;
  at: string;
}

/** Counts and queue depths, cached briefly: every open page asks, and counting reads the whole index. */
export function createStatsSource(config: Config, clients: Clients, ttlMs = 2000) {
  const urls = new Map<string, string>();
  let cached: { at: number; value: Promise<Stats> } | undefined;

  async function depth(name: string): Promise<QueueDepth | undefined> {
    let url = urls.get(name);
    if (!url) {
      url = await queueUrl(clients, name);
      if (!url) return undefined;
      urls.set(name, url);
    }
    const { Attributes: a = {} } = await clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return {
      waiting: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }

  async function read(): Promise<Stats> {
    const [counts, queue, deadLetters] = await Promise.all([
      countImages(config, clients),
      depth(config.names.queue),
      depth(config.names.deadLetterQueue),
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
