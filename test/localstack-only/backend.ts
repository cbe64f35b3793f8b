import { inject, type TestContext } from "vitest";

/**
 * Why this run's backend cannot run a test of a real AWS feature, or undefined when it can.
 * LocalStack (testcontainers) can; the embedded stack cannot; an AWS_ENDPOINT_URL endpoint is asked,
 * since it may be LocalStack from `docker compose up` or the embedded stack from `npm start`.
 */
export async function missingFeature(service: "cloudwatch" | "s3"): Promise<string | undefined> {
  const backend = inject("backend");
  const reason = `needs LocalStack or AWS: ${service === "cloudwatch" ? "the embedded stack has no CloudWatch" : "the embedded stack's edge, not S3, stores and sends notifications"}`;
  if (backend === "localstack") return undefined;
  if (backend === "embedded") return reason;
  try {
    const res = await fetch(new URL("/_localstack/health", inject("endpoint")), { signal: AbortSignal.timeout(5000) });
    const health = (await res.json()) as { edition?: string; services?: Record<string, string> };
    const state = health.services?.[service];
    return health.edition !== "embedded" && (state === "available" || state === "running") ? undefined : reason;
  } catch {
    return `${reason} (${inject("endpoint")} did not say which services it has)`;
  }
}

/** Skips the running test when `reason` is set, and says why in the run's output and in reporters. */
export function skipUnlessSupported(ctx: TestContext, reason: string | undefined): void {
  if (reason === undefined) return;
  // The default reporter shows only a count of skipped tests; the console line says which and why.
  console.info(`skipped: ${reason}`);
  ctx.skip(reason);
}
