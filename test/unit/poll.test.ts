import { describe, expect, it } from "vitest";
import { pollUntil } from "../../src/poll.ts";

/** A probe that answers `value` on its `answerOn`-th call, and the moments (ms) of its calls. */
function probeAnswering<T>(value: T, answerOn: number) {
  const calls: number[] = [];
  const probe = async (): Promise<T | undefined> => {
    calls.push(performance.now());
    return calls.length >= answerOn ? value : undefined;
  };
  return { probe, calls };
}

const gaps = (calls: number[]) => calls.slice(1).map((t, i) => t - (calls[i] as number));
// A timer may fire up to a millisecond before its time (Node rounds the start down).
const SLACK_MS = 2;

describe("pollUntil", () => {
  it("returns the first value, probing at once and then every interval", async () => {
    const { probe, calls } = probeAnswering("ready", 3);
    const value = await pollUntil(probe, { deadline: Date.now() + 10_000, intervalMs: 5 });
    expect(value).toBe("ready");
    expect(calls).toHaveLength(3);
  });

  it("returns undefined once the deadline has passed, after at least one probe", async () => {
    const { probe, calls } = probeAnswering("never", Number.POSITIVE_INFINITY);
    expect(await pollUntil(probe, { deadline: Date.now() - 1, intervalMs: 5 })).toBeUndefined();
    expect(calls).toHaveLength(1);
  });

  it("backs off: each pause doubles the one before, up to maxIntervalMs", async () => {
    const { probe, calls } = probeAnswering("ready", 6);
    await pollUntil(probe, { intervalMs: 10, maxIntervalMs: 40 });
    const expected = [10, 20, 40, 40, 40];
    expect(gaps(calls).map((gap, i) => gap >= (expected[i] as number) - SLACK_MS)).toEqual(expected.map(() => true));
  });

  it("without a deadline keeps polling until a value comes", async () => {
    const { probe, calls } = probeAnswering(0, 4);
    // 0 is a value: only undefined means "not yet".
    expect(await pollUntil(probe, { intervalMs: 1 })).toBe(0);
    expect(calls).toHaveLength(4);
  });

  it("ends with the probe's error", async () => {
    const failing = async () => {
      throw new Error("probe failed");
    };
    await expect(pollUntil(failing, { intervalMs: 1 })).rejects.toThrow("probe failed");
  });

  it("stops in the middle of a pause when the signal aborts", { timeout: 5_000 }, async () => {
    const abort = new AbortController();
    const { probe, calls } = probeAnswering("never", Number.POSITIVE_INFINITY);
    const polling = pollUntil(
      async () => {
        const value = await probe();
        abort.abort();
        return value;
      },
      { intervalMs: 60_000, signal: abort.signal },
    );
    await expect(polling).rejects.toMatchObject({ name: "AbortError" });
    expect(calls).toHaveLength(1);
  });
});
