import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { inject } from "vitest";

/**
 * Why this run's backend cannot run a test of a real AWS feature, or undefined when it can.
 * LocalStack (testcontainers) can; the embedded stack cannot. An AWS_ENDPOINT_URL endpoint may be
 * LocalStack from `docker compose up` or the embedded stack from `npm start`, so the backend itself
 * is asked: CloudWatch by calling it, S3's own notifications by its health report (only the
 * embedded stack's edge, not an S3, stores and sends them there, and it says "edition: embedded").
 */
export async function missingFeature(service: "cloudwatch" | "s3"): Promise<string | undefined> {
  const backend = inject("backend");
  const reason = `needs LocalStack or AWS: ${service === "cloudwatch" ? "the embedded stack has no CloudWatch" : "the embedded stack's edge, not S3, stores and sends notifications"}`;
  if (backend === "localstack") return undefined;
  if (backend === "embedded") return reason;
  const endpoint = inject("endpoint");
  if (service === "cloudwatch") {
    const cloudwatch = new CloudWatchClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });
    try {
      await cloudwatch.send(new DescribeAlarmsCommand({ MaxRecords: 1 }), { abortSignal: AbortSignal.timeout(5000) });
      return undefined;
    } catch (error) {
      return `needs CloudWatch: ${endpoint} answered DescribeAlarms with ${(error as Error).name}`;
    } finally {
      cloudwatch.destroy();
    }
  }
  try {
    const res = await fetch(new URL("/_localstack/health", endpoint), { signal: AbortSignal.timeout(5000) });
    const health = (await res.json()) as { edition?: string; services?: Record<string, string> };
    const state = health.services?.[service];
    return health.edition !== "embedded" && (state === "available" || state === "running") ? undefined : reason;
  } catch {
    return `${reason} (${endpoint} did not say which services it has)`;
  }
}
