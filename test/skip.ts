import type { TestContext } from "vitest";

/** Skips the running test when `reason` is set, and says why in the run's output and in reporters. */
export function skipUnlessSupported(ctx: TestContext, reason: string | undefined): void {
  if (reason === undefined) return;
  // The default reporter shows only a count of skipped tests; the console line says which and why.
  console.info(`skipped: ${reason}`);
  ctx.skip(reason);
}
