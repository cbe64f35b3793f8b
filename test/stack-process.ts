import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import {
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { parseMessageBody } from "../src/pipeline/events.ts";
import { waitFor } from "./helpers.ts";

/** `npm run stack` as its own process group (so the whole tree can be killed), on `dataDir`. */
export function spawnStack(port: number, dataDir: string): ChildProcess & { output: string[] } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("../src/cli/stack.ts", import.meta.url))],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        EMBEDDED_PORT: String(port),
        EMBEDDED_HOST: "127.0.0.1",
        AWS_ENDPOINT_URL: `http://localhost:${port}`,
        AWS_REGION: "us-east-1",
        DATA_DIR: dataDir,
        LOG_LEVEL: "warn",
      },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return withOutput(child);
}

/** The child, collecting what it writes to stdout and stderr (piped) in `output`. */
export function withOutput(process: ChildProcess): ChildProcess & { output: string[] } {
  const child = Object.assign(process, { output: [] as string[] });
  child.stdout?.on("data", (chunk: Buffer) => child.output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => child.output.push(chunk.toString()));
  return child;
}

/** A port free right now (the stack must come back on the same one after a restart). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function waitUntilHealthy(endpoint: string, child: ChildProcess & { output: string[] }): Promise<void> {
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the stack exited: ${child.output.join("")}`);
      const ok = await fetch(`${endpoint}/_embedded/health`).then(
        (r) => r.ok,
        () => false,
      );
      return ok ? true : undefined;
    },
    60_000,
    "the stack to answer",
  );
}

/** S3 and SQS clients that never retry: one 2xx is one acknowledgement. */
export function stackClients(endpoint: string): { s3: S3Client; sqs: SQSClient } {
  const common = {
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
    // A burst is the point: let every upload have its own connection.
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: 200 } },
  };
  return { s3: new S3Client({ ...common, forcePathStyle: true }), sqs: new SQSClient(common) };
}

export const BUCKET = "crash-uploads";
export const QUEUE = "crash-events";

/** A bucket whose ObjectCreated events go to a queue; returns the queue URL. */
export async function createBucketWithQueue(clients: { s3: S3Client; sqs: SQSClient }): Promise<string> {
  await clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: QUEUE }));
  await clients.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: BUCKET,
      NotificationConfiguration: {
        QueueConfigurations: [
          { QueueArn: `arn:aws:sqs:us-east-1:000000000000:${QUEUE}`, Events: ["s3:ObjectCreated:*"] },
        ],
      },
    }),
  );
  return queue.QueueUrl ?? "";
}

/** PutObject of each key, all at once; resolves with the keys that got a 2xx. */
export async function burst(s3: S3Client, keys: string[], onAck?: (key: string) => void): Promise<string[]> {
  const results = await Promise.allSettled(
    keys.map(async (Key) => {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: `body of ${Key}` }));
      onAck?.(Key);
      return Key;
    }),
  );
  return results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
}

/**
 * Receives (and deletes) S3 events until every key in `wanted` was seen or `timeoutMs` passed;
 * returns the keys seen.
 */
export async function keysOnQueue(
  sqs: SQSClient,
  queueUrl: string,
  wanted: Set<string>,
  timeoutMs = 20_000,
): Promise<Set<string>> {
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && [...wanted].some((k) => !seen.has(k))) {
    const res = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const messages = res.Messages ?? [];
    for (const message of messages) {
      const parsed = parseMessageBody(message.Body ?? "");
      if (parsed.kind === "objects") for (const object of parsed.objects) seen.add(object.key);
    }
    if (messages.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
        }),
      );
    }
  }
  return seen;
}
