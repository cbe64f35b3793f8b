import { availableParallelism } from "node:os";
import { z } from "zod";
import { ConfigError } from "./errors.ts";

/** Where the AWS APIs live: the embedded stack and LocalStack are both "emulator". */
export type Target = { kind: "aws" } | { kind: "emulator"; endpoint: string };

export const THUMBNAIL_FORMATS = ["jpeg", "webp", "avif", "png"] as const;
export type ThumbnailFormat = (typeof THUMBNAIL_FORMATS)[number];

export const LAMBDA_ARCHITECTURES = ["x86_64", "arm64"] as const;
export type LambdaArchitecture = (typeof LAMBDA_ARCHITECTURES)[number];

/** The only values CloudWatch Logs accepts for a retention policy. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export const DEFAULT_ENDPOINT = "http://localhost:4566";

export interface Config {
  region: string;
  target: Target;
  /** Static credentials for emulators; undefined means the SDK's default chain. */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  names: ResourceNames;
  uploadPrefix: string;
  thumbnails: {
    sizes: number[];
    format: ThumbnailFormat;
    quality: number;
  };
  limits: {
    maxBytes: number;
    maxPixels: number;
  };
  /** RECORD_GPS: keep photos' GPS coordinates in their items (off: they reveal where people live). */
  recordGps: boolean;
  queue: {
    visibilityTimeoutSeconds: number;
    maxReceiveCount: number;
  };
  worker: {
    concurrency: number;
    batchSize: number;
    waitTimeSeconds: number;
  };
  embedded: {
    host: string;
    port: number;
    dataDir: string;
  };
  web: {
    port: number;
    host: string;
    /** Endpoint written into presigned URLs for the browser, when it differs from the server's (compose). */
    publicS3Endpoint: string | undefined;
    /** Host names the gallery answers to (others get 421): loopback names and WEB_HOST. */
    allowedHosts: string[];
  };
  /**
   * Origins whose pages may call the AWS endpoint from a browser (CORS): the gallery's own
   * origins on WEB_PORT, then CORS_ALLOWED_ORIGINS. The embedded edge answers only these, and
   * bootstrap writes them into the buckets' CORS configuration.
   */
  corsAllowedOrigins: string[];
  alertEmail: string | undefined;
  logLevel: "debug" | "info" | "warn" | "error";
  /** `npm run deploy`: the same handler on AWS Lambda. */
  lambda: {
    /** Undefined: the account's LabRole if there is one, else a role deploy creates. */
    roleArn: string | undefined;
    architecture: LambdaArchitecture;
    memoryMb: number;
    timeoutSeconds: number;
    batchSize: number;
    maxConcurrency: number;
    logRetentionDays: number;
    /** AWS_ENDPOINT_URL inside the function when deploying to an emulator; undefined: LocalStack's own. */
    endpointUrl: string | undefined;
  };
}

export interface ResourceNames {
  prefix: string;
  uploadsBucket: string;
  thumbnailsBucket: string;
  queue: string;
  deadLetterQueue: string;
  table: string;
  /** Global secondary index that lists images by upload date. */
  uploadDateIndex: string;
  /** Sparse: only items with a takenAt (capture date from EXIF) are in it. */
  takenDateIndex: string;
  failureTopic: string;
  failureAlarm: string;
  deadLetterAlarm: string;
}

export function resourceNames(prefix: string, table: string): ResourceNames {
  return {
    prefix,
    uploadsBucket: `${prefix}-uploads`,
    thumbnailsBucket: `${prefix}-thumbnails`,
    queue: `${prefix}-upload-events`,
    deadLetterQueue: `${prefix}-upload-events-dlq`,
    table,
    uploadDateIndex: "byUploadDate",
    takenDateIndex: "byTakenDate",
    failureTopic: `${prefix}-failures`,
    failureAlarm: `${prefix}-processing-failures`,
    deadLetterAlarm: `${prefix}-dead-letters`,
  };
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

// S3 bucket names: 3-63 chars, lowercase letters, digits and hyphens; the suffixes above add 12.
const prefixSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$/, "3-50 lowercase letters, digits or hyphens");

const sizesSchema = z
  .string()
  .transform((s) => s.split(",").map((part) => Number(part.trim())))
  .pipe(z.array(z.number().int().min(16).max(4096)).min(1))
  .transform((sizes) => [...new Set(sizes)].sort((a, b) => a - b));

const envSchema = z.object({
  AWS_REGION: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "an AWS region such as us-east-1")
    .default("us-east-1"),
  AWS_ENDPOINT_URL: z.string().optional(),
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  AWS_LAMBDA_FUNCTION_NAME: z.string().optional(),
  NAME_PREFIX: prefixSchema.default("image-pipeline"),
  TABLE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, "3-255 letters, digits, '_', '-' or '.'")
    .default("ImageMetadata"),
  UPLOAD_PREFIX: z
    .string()
    .regex(/^[^/].*\/$/, "a key prefix ending in '/', such as uploads/")
    .default("uploads/"),
  THUMBNAIL_SIZES: sizesSchema.default([128, 512]),
  THUMBNAIL_FORMAT: z.enum(THUMBNAIL_FORMATS).default("jpeg"),
  THUMBNAIL_QUALITY: int(1, 100).default(80),
  MAX_IMAGE_BYTES: int(1, 5 * 1024 ** 3).default(50 * 1024 ** 2),
  MAX_IMAGE_PIXELS: int(1, 268_402_689).default(100_000_000),
  RECORD_GPS: z
    .enum(["true", "false"], { error: "true or false" })
    .default("false")
    .transform((value) => value === "true"),
  VISIBILITY_TIMEOUT_SECONDS: int(1, 43_200).default(120),
  MAX_RECEIVE_COUNT: int(1, 1000).default(5),
  WORKER_CONCURRENCY: int(1, 64).optional(),
  WORKER_BATCH_SIZE: int(1, 10).default(10),
  WORKER_WAIT_SECONDS: int(0, 20).default(20),
  EMBEDDED_HOST: z.string().min(1).default("127.0.0.1"),
  EMBEDDED_PORT: int(0, 65_535).default(4566),
  DATA_DIR: z.string().min(1).default(".data"),
  WEB_PORT: int(0, 65_535).default(8080),
  WEB_HOST: z.string().min(1).default("127.0.0.1"),
  WEB_PUBLIC_S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  CORS_ALLOWED_ORIGINS: z
    .string()
    .transform((list) =>
      list
        .split(",")
        .map((origin) => origin.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(z.string().refine(isOrigin, "comma-separated origins such as http://localhost:5173 (no '*', no path)")),
    )
    .default([]),
  ALERT_EMAIL: z.email().optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  LAMBDA_ROLE_ARN: z
    .string()
    .regex(
      /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/,
      "an IAM role ARN such as arn:aws:iam::123456789012:role/LabRole",
    )
    .optional(),
  LAMBDA_ARCH: z.enum(LAMBDA_ARCHITECTURES).default("x86_64"),
  LAMBDA_MEMORY_MB: int(128, 10_240).default(1536),
  LAMBDA_TIMEOUT_SECONDS: int(1, 900).default(20),
  // Above 10, Lambda requires a batching window, which only delays images here.
  LAMBDA_BATCH_SIZE: int(1, 10).default(5),
  LAMBDA_MAX_CONCURRENCY: int(2, 1000).default(5),
  LOG_RETENTION_DAYS: z.coerce
    .number()
    .refine(
      (days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days),
      `one of ${LOG_RETENTION_DAYS.join(", ")}`,
    )
    .default(14),
  LAMBDA_ENDPOINT_URL: z.url({ protocol: /^https?$/ }).optional(),
});

export type Env = Record<string, string | undefined>;

/** Every variable the config reads (AWS_LAMBDA_FUNCTION_NAME is set by Lambda itself). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape).filter((name) => name !== "AWS_LAMBDA_FUNCTION_NAME");

/**
 * Reads the environment once into a validated config. Call it in entry points only;
 * everything else takes the Config object.
 *
 * AWS_ENDPOINT_URL: unset means the local default (http://localhost:4566) except on
 * Lambda; an empty value means real AWS (the SDK ignores an empty value too).
 */
export function loadConfig(env: Env = process.env): Config {
  // dotenv and shells give "" for `VAR=`; treat it as unset for everything but the endpoint.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => value !== "" || key === "AWS_ENDPOINT_URL"),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  ${issue.path.join(".")}=${JSON.stringify(cleaned[String(issue.path[0])] ?? "")}: ${issue.message}`,
    );
    throw new ConfigError(`Invalid configuration:\n${problems.join("\n")}`);
  }
  const e = parsed.data;
  const target = resolveTarget(e.AWS_ENDPOINT_URL, e.AWS_LAMBDA_FUNCTION_NAME);
  // On AWS the SDK's default chain reads these same variables plus AWS_SESSION_TOKEN (AWS
  // Academy's temporary keys, a Lambda role's keys): passing two of the three would drop it.
  const credentials =
    target.kind === "aws"
      ? undefined
      : e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY }
        : { accessKeyId: "test", secretAccessKey: "test" };
  return {
    region: e.AWS_REGION,
    target,
    credentials,
    names: resourceNames(e.NAME_PREFIX, e.TABLE_NAME),
    uploadPrefix: e.UPLOAD_PREFIX,
    thumbnails: { sizes: e.THUMBNAIL_SIZES, format: e.THUMBNAIL_FORMAT, quality: e.THUMBNAIL_QUALITY },
    limits: { maxBytes: e.MAX_IMAGE_BYTES, maxPixels: e.MAX_IMAGE_PIXELS },
    recordGps: e.RECORD_GPS,
    queue: { visibilityTimeoutSeconds: e.VISIBILITY_TIMEOUT_SECONDS, maxReceiveCount: e.MAX_RECEIVE_COUNT },
    worker: {
      // Each image gets one libvips thread, and each waits on five AWS calls between its CPU
      // work: one image more than there are cores keeps every core busy through those waits
      // (npm run bench -- --peer, 2 cores: project ÷ original 1.30 with 3, 1.14 with 2, in
      // alternating runs; worker peak RSS 384 MiB over the corpus).
      concurrency: e.WORKER_CONCURRENCY ?? availableParallelism() + 1,
      batchSize: e.WORKER_BATCH_SIZE,
      waitTimeSeconds: e.WORKER_WAIT_SECONDS,
    },
    embedded: { host: e.EMBEDDED_HOST, port: e.EMBEDDED_PORT, dataDir: e.DATA_DIR },
    web: {
      port: e.WEB_PORT,
      host: e.WEB_HOST,
      publicS3Endpoint: e.WEB_PUBLIC_S3_ENDPOINT && new URL(e.WEB_PUBLIC_S3_ENDPOINT).origin,
      allowedHosts: galleryHosts(e.WEB_HOST),
    },
    corsAllowedOrigins: [
      ...new Set([
        ...galleryHosts(e.WEB_HOST).map((host) => `http://${host.includes(":") ? `[${host}]` : host}:${e.WEB_PORT}`),
        ...e.CORS_ALLOWED_ORIGINS.map((origin) => new URL(origin).origin),
      ]),
    ],
    alertEmail: e.ALERT_EMAIL,
    logLevel: e.LOG_LEVEL,
    lambda: {
      roleArn: e.LAMBDA_ROLE_ARN,
      architecture: e.LAMBDA_ARCH,
      memoryMb: e.LAMBDA_MEMORY_MB,
      timeoutSeconds: e.LAMBDA_TIMEOUT_SECONDS,
      batchSize: e.LAMBDA_BATCH_SIZE,
      maxConcurrency: e.LAMBDA_MAX_CONCURRENCY,
      logRetentionDays: e.LOG_RETENTION_DAYS,
      endpointUrl: e.LAMBDA_ENDPOINT_URL && new URL(e.LAMBDA_ENDPOINT_URL).origin,
    },
  };
}

/** The names a browser reaches the gallery by: loopback, and WEB_HOST unless it is a wildcard. */
function galleryHosts(webHost: string): string[] {
  const hosts = ["localhost", "127.0.0.1", "::1"];
  const host = webHost.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (host !== "0.0.0.0" && host !== "::" && !hosts.includes(host)) hosts.push(host);
  return hosts;
}

/** An origin as browsers send it in `Origin`: scheme, host and optional port, nothing else. */
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === text.replace(/\/$/, "");
  } catch {
    return false;
  }
}

function resolveTarget(endpoint: string | undefined, lambdaFunction: string | undefined): Target {
  if (endpoint === undefined) {
    return lambdaFunction ? { kind: "aws" } : { kind: "emulator", endpoint: DEFAULT_ENDPOINT };
  }
  if (endpoint.trim() === "") return { kind: "aws" };
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ConfigError(`Invalid configuration:\n  AWS_ENDPOINT_URL=${JSON.stringify(endpoint)}: not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`Invalid configuration:\n  AWS_ENDPOINT_URL=${JSON.stringify(endpoint)}: must be http(s)`);
  }
  return { kind: "emulator", endpoint: url.origin };
}

/** Config with the endpoint pointed at a given URL: used by the embedded stack and tests. */
export function withEndpoint(config: Config, endpoint: string): Config {
  return {
    ...config,
    target: { kind: "emulator", endpoint },
    credentials: config.credentials ?? { accessKeyId: "test", secretAccessKey: "test" },
  };
}

export function describeTarget(config: Config): string {
  return config.target.kind === "aws" ? `AWS (${config.region})` : config.target.endpoint;
}
