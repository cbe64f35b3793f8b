// What `npm run deploy` wants to exist: names, ARNs and settings derived from Config alone,
// so that --dry-run can print them without asking AWS anything.
import type { Config } from "../../config.ts";

export const LAMBDA_RUNTIME = "nodejs24.x";
/** The bundle is lambda.mjs in the zip's root; its export is `handler`. */
export const LAMBDA_HANDLER = "lambda.handler";
/** AWS recommends a queue visibility timeout of at least six function timeouts. */
export const VISIBILITY_FACTOR = 6;
/** Stands in for the account ID when the plan is made without credentials. */
export const UNKNOWN_ACCOUNT = "<account-id>";
/** AWS Academy Learner Lab's pre-made role: the only one a lab account may pass to Lambda. */
export const LAB_ROLE = "LabRole";

export interface DeploymentNames {
  function: string;
  /** The role deploy creates when neither LAMBDA_ROLE_ARN nor LabRole is there. */
  role: string;
  rolePolicy: string;
  logGroup: string;
  errorsAlarm: string;
}

export function deploymentNames(config: Config): DeploymentNames {
  const { prefix } = config.names;
  // Function and role names allow 64 characters; the prefix has at most 50.
  return {
    function: `${prefix}-thumbnailer`,
    role: `${prefix}-thumbnailer`,
    rolePolicy: "thumbnailer",
    logGroup: `/aws/lambda/${prefix}-thumbnailer`,
    errorsAlarm: `${prefix}-lambda-errors`,
  };
}

export interface DeploymentArns {
  uploadsBucket: string;
  thumbnailsBucket: string;
  queue: string;
  deadLetterQueue: string;
  table: string;
  topic: string;
  logGroup: string;
  function: string;
}

export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** Every ARN is computable from names, region and account: no lookups needed. */
export function deploymentArns(config: Config, account: string): DeploymentArns {
  const { names, region } = config;
  const p = partitionOf(region);
  const fn = deploymentNames(config);
  return {
    uploadsBucket: `arn:${p}:s3:::${names.uploadsBucket}`,
    thumbnailsBucket: `arn:${p}:s3:::${names.thumbnailsBucket}`,
    queue: `arn:${p}:sqs:${region}:${account}:${names.queue}`,
    deadLetterQueue: `arn:${p}:sqs:${region}:${account}:${names.deadLetterQueue}`,
    table: `arn:${p}:dynamodb:${region}:${account}:table/${names.table}`,
    topic: `arn:${p}:sns:${region}:${account}:${names.failureTopic}`,
    logGroup: `arn:${p}:logs:${region}:${account}:log-group:${fn.logGroup}`,
    function: `arn:${p}:lambda:${region}:${account}:function:${fn.function}`,
  };
}

/**
 * The function's environment: what the handler's loadConfig reads, never credentials (Lambda
 * provides the role's). AWS_REGION is reserved and set by Lambda itself.
 */
export function functionEnvironment(config: Config): Record<string, string> {
  const env: Record<string, string> = {
    NAME_PREFIX: config.names.prefix,
    TABLE_NAME: config.names.table,
    UPLOAD_PREFIX: config.uploadPrefix,
    THUMBNAIL_SIZES: config.thumbnails.sizes.join(","),
    THUMBNAIL_FORMAT: config.thumbnails.format,
    THUMBNAIL_QUALITY: String(config.thumbnails.quality),
    MAX_IMAGE_BYTES: String(config.limits.maxBytes),
    MAX_IMAGE_PIXELS: String(config.limits.maxPixels),
    RECORD_GPS: String(config.recordGps),
    LOG_LEVEL: config.logLevel,
  };
  // On AWS the handler must not have an endpoint override; on LocalStack the function runs in
  // its own container, where localhost is not LocalStack: LocalStack injects a reachable
  // AWS_ENDPOINT_URL itself unless one is given here.
  if (config.target.kind === "emulator" && config.lambda.endpointUrl) env.AWS_ENDPOINT_URL = config.lambda.endpointUrl;
  return env;
}

export function requiredVisibilityTimeout(config: Config): number {
  return VISIBILITY_FACTOR * config.lambda.timeoutSeconds;
}

/** Why the configured queue visibility timeout is too short for the function, or undefined. */
export function visibilityProblem(config: Config): string | undefined {
  const required = requiredVisibilityTimeout(config);
  const current = config.queue.visibilityTimeoutSeconds;
  if (current >= required) return undefined;
  return (
    `VISIBILITY_TIMEOUT_SECONDS=${current} is less than ${VISIBILITY_FACTOR} × LAMBDA_TIMEOUT_SECONDS=` +
    `${config.lambda.timeoutSeconds} (${required}): a message would reappear on the queue, and be processed ` +
    `twice, while a slow invocation still holds it. Set VISIBILITY_TIMEOUT_SECONDS=${required} or more ` +
    `(or lower LAMBDA_TIMEOUT_SECONDS) in .env and deploy again: deploy updates the queue.`
  );
}
