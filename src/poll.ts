import { setTimeout as sleep } from "node:timers/promises";

export interface PollOptions {
  /** Give up after this moment (epoch milliseconds, as Date.now()). */
  deadline: number;
  /** Pause between probes, in milliseconds. */
  intervalMs: number;
}

/**
 * Calls `probe` until it returns something other than undefined, and returns that; returns
 * undefined once the deadline has passed. The first probe is immediate and there is always
 * at least one. A probe that throws ends the polling with its error.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  { deadline, intervalMs }: PollOptions,
): Promise<T | undefined> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}
