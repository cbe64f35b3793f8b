// The one place that reads AWS SDK errors: what kind of "no" an answer was.
// Classified by the error's `name` (the service's error code) and HTTP status, not by
// `instanceof`, so one function serves every client package and the emulators' variants.

interface SdkErrorShape {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Error codes meaning "no such thing" across S3, SQS, DynamoDB, Lambda, IAM and CloudWatch Logs. */
const NOT_FOUND = new Set([
  "NotFound", // S3 HeadBucket / HeadObject (no body, so no code)
  "NoSuchBucket",
  "NoSuchKey",
  "QueueDoesNotExist",
  "ResourceNotFoundException", // DynamoDB, Lambda, CloudWatch Logs
  "NoSuchEntityException", // IAM
]);

/** An AWS "not found" answer: no such bucket, key, queue, table, function, role or log group. */
export function isNotFound(error: unknown): boolean {
  const e = error as SdkErrorShape | undefined;
  return NOT_FOUND.has(e?.name ?? "") || e?.$metadata?.httpStatusCode === 404;
}

/** The backend has no such service at all: the embedded stack answers 501 for Lambda, IAM, Logs... */
export function isServiceMissing(error: unknown): boolean {
  const e = error as SdkErrorShape | undefined;
  return e?.$metadata?.httpStatusCode === 501 || e?.name === "NotImplemented";
}

/**
 * The service cannot answer this question here: missing (501), or an emulator that routes
 * the unknown API to a 404 (CloudWatch DescribeAlarms on the embedded stack).
 */
export function isUnavailable(error: unknown): boolean {
  return isServiceMissing(error) || (error as SdkErrorShape | undefined)?.$metadata?.httpStatusCode === 404;
}

/** IAM and STS spell it AccessDenied, most JSON services AccessDeniedException. */
export function isAccessDenied(error: unknown): boolean {
  const name = (error as SdkErrorShape | undefined)?.name;
  return name === "AccessDenied" || name === "AccessDeniedException";
}
