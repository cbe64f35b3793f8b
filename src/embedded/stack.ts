import { mkdirSync, rmSync, statfsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { startFauxqs } from "fauxqs";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { checkLevelStore, createDynalite } from "./dynamo.ts";
import { createEdgeServer, listen } from "./edge.ts";
import { EventJournal, type OpenJournalFile } from "./event-journal.ts";
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
  /** Tests only: how the event journal opens its file, to inject a full disk. */
  openJournalFile?: OpenJournalFile;
  /** Origins whose pages may call the stack from a browser (config.corsAllowedOrigins); default none. */
  allowedOrigins?: readonly string[];
  /** Presigned POST policies must be signed with this secret; default `test`, like every client here. */
  secretAccessKey?: string;
}

export interface EmbeddedStack {
  /** The edge endpoint, e.g. http://localhost:4566: use it as AWS_ENDPOINT_URL. */
  endpoint: string;
  /**
   * Resolves true once the S3 events of every request answered so far are on their queues,
   * false if that takes over `timeoutMs` (the benchmark waits for this).
   */
  notificationsDelivered(timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * S3, SQS and SNS from fauxqs, DynamoDB from dynalite, behind one edge port; everything
 * in this process, nothing but npm packages.
 */
export async function startEmbeddedStack(options: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const { dataDir, logger } = options;
  // Undone in reverse if the start fails half-way, so nothing keeps running or holds a port.
  const started: (() => Promise<unknown>)[] = [];
  try {
    const { fauxqs, dynamo, dynamoPort, journal } = await openStorage(options, started);
    const directS3 = new S3Client({
      region: options.region,
      endpoint: `http://127.0.0.1:${fauxqs.port}`,
      forcePathStyle: true,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    let notifications: NotificationHub;
    try {
      notifications = new NotificationHub(
        fauxqs,
        directS3,
        options.region,
        logger,
        dataDir ? path.join(dataDir, "notifications.json") : undefined,
        journal,
      );
    } catch (error) {
      // A damaged saved setup: the message names DATA_DIR, as for the journal.
      throw dataDir ? new StorageStartError(dataDir, error) : error;
    }
    notifications.start();
    started.push(() => notifications.stop());

    const edge = createEdgeServer({
      fauxqsPort: fauxqs.port,
      s3: directS3,
      dynamoPort,
      notifications,
      logger,
      allowedOrigins: options.allowedOrigins ?? [],
      policy: { secretAccessKey: options.secretAccessKey ?? "test" },
    });
    const port = await listen(edge, options.port, options.host);
    const hostForUrl = options.host === "127.0.0.1" || options.host === "0.0.0.0" ? "localhost" : options.host;

    let stopping: Promise<void> | undefined;
    return {
      endpoint: `http://${hostForUrl}:${port}`,
      notificationsDelivered: (timeoutMs) => notifications.drain(timeoutMs),
      stop() {
        stopping ??= (async () => {
          // 1. No new requests; S3 writes in flight finish (their events get recorded).
          await edge.stopAccepting(STOP_GRACE_MS);
          // 2. Their events reach the queues; what does not in time stays recorded for the next start.
          if (!(await notifications.drain(STOP_GRACE_MS))) {
            logger.warn("stopping with S3 events not yet on their queues: they are sent at the next start");
          }
          await notifications.stop();
          // 3. Only then the emulators.
          directS3.destroy();
          await fauxqs.stop();
          await closeServer(dynamo);
        })();
        return stopping;
      },
    };
  } catch (error) {
    for (const undo of started.reverse()) await undo().catch(() => {});
    throw error;
  }
}

/**
 * fauxqs (with its SQLite store), dynalite (LevelDB) and the event journal, on DATA_DIR.
 * A storage failure becomes one sentence naming DATA_DIR (StorageStartError).
 */
async function openStorage(options: EmbeddedStackOptions, started: (() => Promise<unknown>)[]) {
  const { dataDir } = options;
  try {
    if (dataDir && options.fresh) rmSync(dataDir, { recursive: true, force: true });
    if (dataDir) {
      mkdirSync(path.join(dataDir, "dynamodb"), { recursive: true });
      checkFreeSpace(dataDir);
    }

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
    started.push(() => fauxqs.stop());

    // LevelDB opens in the background; a failure (a full disk) would only show on the first call.
    if (dataDir) await checkLevelStore(path.join(dataDir, "dynamodb"));
    const dynamo = createDynalite({
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
      ...(dataDir && { path: path.join(dataDir, "dynamodb") }),
    });
    const dynamoPort = await listen(dynamo, 0, "127.0.0.1");
    started.push(() => closeServer(dynamo));

    const journal = await EventJournal.open(
      dataDir ? path.join(dataDir, "events.journal") : undefined,
      options.openJournalFile,
    );
    return { fauxqs, dynamo, dynamoPort, journal };
  } catch (error) {
    throw dataDir ? new StorageStartError(dataDir, error) : error;
  }
}

/**
 * Refuses to start with less than MIN_FREE_BYTES free where DATA_DIR is: the stores would
 * open, then fail on the first write. Throws an ENOSPC error.
 */
function checkFreeSpace(dataDir: string): void {
  const { bavail, bsize } = statfsSync(dataDir);
  const free = bavail * bsize;
  if (free < MIN_FREE_BYTES) {
    throw Object.assign(new Error(`ENOSPC: ${free} bytes free, the stack needs at least ${MIN_FREE_BYTES}`), {
      code: "ENOSPC",
    });
  }
}
const MIN_FREE_BYTES = 1024 * 1024;

/** The stack could not open its state in DATA_DIR; the message names the folder and the cause. */
export class StorageStartError extends Error {
  override name = "StorageStartError";
  constructor(
    readonly dataDir: string,
    cause: unknown,
  ) {
    const full = diskFullError(cause);
    const detail = ((full ?? cause) as Error)?.message ?? String(cause);
    super(
      full
        ? `The disk holding DATA_DIR (${path.resolve(dataDir)}) is full (${detail}). Free some space, then start again: nothing recorded is lost.`
        : `Cannot open the stack's state in DATA_DIR (${path.resolve(dataDir)}): ${detail}`,
      { cause },
    );
  }
}

/** The error, or one of its causes, that is ENOSPC as Node, SQLite (SQLITE_FULL) or LevelDB report it. */
export function diskFullError(error: unknown): Error | undefined {
  for (let e = error as { code?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === "ENOSPC" || /ENOSPC|No space left on device|disk is full/i.test(e.message ?? "")) return e as Error;
  }
  return undefined;
}

/** How long a graceful stop waits for requests in flight, then for their events. */
const STOP_GRACE_MS = 5_000;

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
    allowedOrigins: config.corsAllowedOrigins,
    secretAccessKey: config.credentials?.secretAccessKey ?? "test",
    ...overrides,
  };
}

/** One sentence for the usual reasons the stack cannot start. */
export function describeStartError(error: unknown, port: number): string {
  if (error instanceof StorageStartError) return error.message;
  if ((error as { code?: string }).code === "EADDRINUSE") {
    return `Port ${port} is already in use. Is LocalStack (docker compose) or another \`npm start\` running? Stop it, or set EMBEDDED_PORT and AWS_ENDPOINT_URL to another port.`;
  }
  return `The embedded stack failed to start: ${(error as Error).message}`;
}
