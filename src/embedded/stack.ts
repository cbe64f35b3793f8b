import { mkdirSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import dynalite from "dynalite";
import { startFauxqs } from "fauxqs";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { createEdgeServer, listen } from "./edge.ts";
import { NotificationHub } from "./notifications.ts";

export interface EmbeddedStackOptions {
  /** Edge port; 0 picks a free one (tests). */
  port: number;
  host: string;
  region: string;
  /** Where state persists across restarts; undefined keeps everything in memory. */
  dataDir: string | undefined;
  /** Delete the data folder first. */
  fresh?: boolean;
  logger: Logger;
}

export interface EmbeddedStack {
  /** The edge endpoint, e.g. http://localhost:4566: use it as AWS_ENDPOINT_URL. */
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * S3, SQS and SNS from fauxqs, DynamoDB from dynalite, behind one edge port; everything
 * in this process, nothing but npm packages.
 */
export async function startEmbeddedStack(options: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const { dataDir, logger } = options;
  if (dataDir && options.fresh) rmSync(dataDir, { recursive: true, force: true });
  if (dataDir) mkdirSync(path.join(dataDir, "dynamodb"), { recursive: true });

  const fauxqs = await onLoopback(() =>
    startFauxqs({
      port: 0,
      logger: false,
      defaultRegion: options.region,
      // Only the notification hub's waiter needs the spy; keep the replay buffer tiny.
      messageSpies: { bufferSize: 16 },
      ...(dataDir && { dataDir: path.join(dataDir, "fauxqs") }),
    }),
  );

  const dynamo = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir && { path: path.join(dataDir, "dynamodb") }),
  });
  const dynamoPort = await listen(dynamo, 0, "127.0.0.1");

  const directS3 = new S3Client({
    region: options.region,
    endpoint: `http://127.0.0.1:${fauxqs.port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const notifications = new NotificationHub(
    fauxqs,
    directS3,
    options.region,
    logger,
    dataDir ? path.join(dataDir, "notifications.json") : undefined,
  );
  notifications.start();

  const edge = createEdgeServer({ fauxqsPort: fauxqs.port, s3: directS3, dynamoPort, notifications, logger });
  let port: number;
  try {
    port = await listen(edge, options.port, options.host);
  } catch (error) {
    await Promise.allSettled([fauxqs.stop(), closeServer(dynamo)]);
    throw error;
  }
  const hostForUrl = options.host === "127.0.0.1" || options.host === "0.0.0.0" ? "localhost" : options.host;

  return {
    endpoint: `http://${hostForUrl}:${port}`,
    async stop() {
      notifications.stop();
      await notifications.drain();
      edge.closeAllConnections();
      await closeServer(edge);
      directS3.destroy();
      await fauxqs.stop();
      await closeServer(dynamo);
    },
  };
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

/**
 * fauxqs always listens on 0.0.0.0, which would expose an unauthenticated S3 and SQS to
 * the network. While it starts, rewrite that one listen call to loopback.
 */
async function onLoopback<T>(start: () => Promise<T>): Promise<T> {
  const original = net.Server.prototype.listen;
  net.Server.prototype.listen = function patched(this: net.Server, ...args: unknown[]) {
    const first = args[0];
    if (typeof first === "object" && first !== null && (first as net.ListenOptions).host === "0.0.0.0") {
      args[0] = { ...(first as net.ListenOptions), host: "127.0.0.1" };
    }
    return (original as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof original;
  try {
    return await start();
  } finally {
    net.Server.prototype.listen = original;
  }
}

/** The stack as `npm start` and `npm run stack` run it, from config. */
export function embeddedStackOptions(
  config: Config,
  logger: Logger,
  overrides: Partial<EmbeddedStackOptions> = {},
): EmbeddedStackOptions {
  return {
    port: config.embedded.port,
    host: config.embedded.host,
    region: config.region,
    dataDir: config.embedded.dataDir,
    logger,
    ...overrides,
  };
}

/** One sentence for the usual reasons the stack cannot start. */
export function describeStartError(error: unknown, port: number): string {
  if ((error as { code?: string }).code === "EADDRINUSE") {
    return `Port ${port} is already in use. Is LocalStack (docker compose) or another \`npm start\` running? Stop it, or set EMBEDDED_PORT and AWS_ENDPOINT_URL to another port.`;
  }
  return `The embedded stack failed to start: ${(error as Error).message}`;
}
