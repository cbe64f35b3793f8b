import { setTimeout as sleep } from "node:timers/promises";

export interface PollOptions {
  /** Give up after this moment (epoch milliseconds, as Date.now()); without one, poll until a value comes. */
  deadline?: number;
  /** Pause after the first probe, in milliseconds. */
  intervalMs: number;
  /** Back-off: each pause doubles the one before, up to this many milliseconds. Default: `intervalMs`, no back-off. */
  maxIntervalMs?: number;
  /** Ends the polling: rejects with the signal's reason (an AbortError), also in the middle of a pause. */
  signal?: AbortSignal;
}

/**
 * Calls `probe` until it returns something other than undefined, and returns that; returns
 * undefined once the deadline has passed. The first probe is immediate and there is always
 * at least one. A probe that throws ends the polling with its error.
 */
export function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: PollOptions & { deadline: number },
): Promise<T | undefined>;
/** Without a deadline: resolves with the first value, or rejects (the probe's error, or the signal). */
export function pollUntil<T>(probe: () => Promise<T | undefined>, options: PollOptions): Promise<T>;
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  { deadline = Number.POSITIVE_INFINITY, intervalMs, maxIntervalMs = intervalMs, signal }: PollOptions,
): Promise<T | undefined> {
  let pause = intervalMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(pause, undefined, signal && { signal });
    pause = Math.min(maxIntervalMs, pause * 2);
  }
}
