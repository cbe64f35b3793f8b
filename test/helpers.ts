import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import sharp from "sharp";
import { inject } from "vitest";
import { type Clients, createClients, destroyClients } from "../src/aws/clients.ts";
import { queueUrl } from "../src/aws/lookups.ts";
import { type Config, type Env, loadConfig } from "../src/config.ts";
import { silentLogger } from "../src/logger.ts";
import { startWorker, type Worker } from "../src/pipeline/worker.ts";
import { pollUntil } from "../src/poll.ts";
import { ensureResources, teardownResources } from "../src/provision/resources.ts";
import { getImageItem, type ImageItem, imageIdFor } from "../src/store/metadata.ts";

/** A config on the test backend with resource names no other test file uses. */
export function testConfig(overrides: Env = {}): Config {
  const id = randomBytes(4).toString("hex");
  return loadConfig({
    AWS_ENDPOINT_URL: inject("endpoint"),
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    NAME_PREFIX: `t-${id}`,
    TABLE_NAME: `ImageMetadata-${id}`,
    WORKER_WAIT_SECONDS: "1",
    VISIBILITY_TIMEOUT_SECONDS: "10",
    // The origins CORS allows derive from it (see global-setup.ts).
    WEB_PORT: String(inject("galleryPort")),
    ...overrides,
  });
}

export interface Pipeline {
  config: Config;
  clients: Clients;
  queueUrl: string;
  worker?: Worker;
  /** Upload bytes under the uploads prefix; returns the key. */
  upload(name: string, body: Buffer, contentType?: string): Promise<string>;
  /** Wait until the item for this key exists and satisfies `until` (default: any). */
  waitForItem(key: string, until?: (item: ImageItem) => boolean, timeoutMs?: number): Promise<ImageItem>;
  getObject(bucket: string, key: string): Promise<Buffer>;
  close(): Promise<void>;
}

/** Bootstraps fresh resources; with `worker: true` also runs the worker in-process. */
export async function createPipeline(options: { worker?: boolean; env?: Env } = {}): Promise<Pipeline> {
  const config = testConfig(options.env);
  const clients = createClients(config);
  await ensureResources(config, clients);
  const url = (await queueUrl(clients, config.names.queue)) ?? "";
  const worker = options.worker ? await startWorker({ config, clients, logger: silentLogger }) : undefined;
  return {
    config,
    clients,
    queueUrl: url,
    ...(worker && { worker }),
    async upload(name, body, contentType = "application/octet-stream") {
      const key = `${config.uploadPrefix}${name}`;
      await clients.s3.send(
        new PutObjectCommand({ Bucket: config.names.uploadsBucket, Key: key, Body: body, ContentType: contentType }),
      );
      return key;
    },
    async waitForItem(key, until = () => true, timeoutMs = 20_000) {
      const imageId = imageIdFor(config.names.uploadsBucket, key);
      return waitFor(
        async () => {
          const item = await getImageItem(clients, config.names, imageId);
          return item && until(item) ? item : undefined;
        },
        timeoutMs,
        `item for ${key}`,
      );
    },
    async getObject(bucket, key) {
      const res = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await (res.Body?.transformToByteArray() ?? new Uint8Array()));
    },
    async close() {
      await worker?.stop();
      await teardownResources(config, clients);
      destroyClients(clients);
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const value = await pollUntil(probe, { deadline: Date.now() + timeoutMs, intervalMs: 100 });
  if (value === undefined) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
  return value;
}

/** Everything currently receivable on a queue (deleting nothing), within `waitSeconds`. */
export async function drainQueue(clients: Clients, url: string, waitSeconds = 1): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const res = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: 30,
      }),
    );
    if (!res.Messages?.length) return bodies;
    bodies.push(...res.Messages.map((m) => m.Body ?? ""));
  }
}

export function sqsRecord(messageId: string, body: unknown, receiveCount = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: "0",
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:test",
    awsRegion: "us-east-1",
  };
}

/** A real JPEG of the given size: a gradient, so that it compresses like a photo. */
export async function jpeg(width: number, height: number, options: { orientation?: number } = {}): Promise<Buffer> {
  let image = sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } } }).jpeg();
  if (options.orientation) image = image.withMetadata({ orientation: options.orientation });
  return image.toBuffer();
}

export async function png(width: number, height: number, alpha = false): Promise<Buffer> {
  return sharp({
    create: { width, height, channels: alpha ? 4 : 3, background: { r: 10, g: 120, b: 200, alpha: alpha ? 0 : 1 } },
  })
    .png()
    .toBuffer();
}

export async function dimensionsOf(data: Buffer): Promise<{ width: number; height: number; format: string }> {
  const meta = await sharp(data).metadata();
  return { width: meta.width ?? 0, height: meta.height ?? 0, format: meta.format ?? "" };
}

/** What a command-line run printed and how it ended. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A command's module (e.g. "src/cli/seed.ts") as a user runs it: a separate process,
 * configured only by its environment (the run's, cleared of pipeline settings by
 * test/hermetic-env.ts, .env included), on the test pipeline's resources at the emulator.
 */
export function runCli(
  module: string,
  config: Config,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", module, ...args],
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL: inject("endpoint"),
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "test",
          AWS_SECRET_ACCESS_KEY: "test",
          NAME_PREFIX: config.names.prefix,
          TABLE_NAME: config.names.table,
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `npm run images -- <args>` as a user runs it (runCli). */
export function runImagesCli(config: Config, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli("src/cli/images.ts", config, args, env);
}
