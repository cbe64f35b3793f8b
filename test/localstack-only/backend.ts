import { inject } from "vitest";

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
