import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JournalFile, type OpenJournalFile, openRealFile } from "../../src/embedded/event-journal.ts";
import { type EmbeddedStack, startEmbeddedStack } from "../../src/embedded/stack.ts";
import { silentLogger } from "../../src/logger.ts";
import { skipUnlessSupported } from "../skip.ts";
import { BUCKET, burst, createBucketWithQueue, keysOnQueue, stackClients } from "../stack-process.ts";

const start = (dataDir: string, openJournalFile?: OpenJournalFile) =>
  startEmbeddedStack({
    port: 0,
    host: "127.0.0.1",
    region: "us-east-1",
    dataDir,
    logger: silentLogger,
    openJournalFile,
  });

/** The real journal file, failing every write with ENOSPC while `state.full` is set. */
function journalOnFullDisk(state: { full: boolean }): OpenJournalFile {
  return async (file) => {
    const real = await openRealFile(file);
    return {
      ...real,
      async write(data, position) {
        if (state.full) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        await real.write(data, position);
      },
    } satisfies JournalFile;
  };
}

/** The status and S3 error code of a call that must fail. */
async function failure(call: Promise<unknown>): Promise<{ status?: number; code?: string }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e as { name?: string; $metadata?: { httpStatusCode?: number } },
  );
  expect(error, "the call succeeded").toBeDefined();
  return { status: error?.$metadata?.httpStatusCode, code: error?.name };
}

// Its own embedded stack on a data folder whose event journal cannot be written: always embedded.
describe("an upload whose event cannot be recorded", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "pipeline-journal-full-"));
  const disk = { full: false };
  let stack: EmbeddedStack;
  let clients: ReturnType<typeof stackClients>;
  let queueUrl: string;
  beforeAll(async () => {
    stack = await start(dataDir, journalOnFullDisk(disk));
    clients = stackClients(stack.endpoint);
    queueUrl = await createBucketWithQueue(clients);
  });
  afterAll(async () => {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("is answered with S3's 500 InternalError, never a 2xx, and works again once it can be", async () => {
    await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "uploads/before.jpg", Body: "x" }));
    disk.full = true;
    expect(
      await failure(clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "uploads/a.jpg", Body: "x" }))),
    ).toEqual({
      status: 500,
      code: "InternalError",
    });
    const copy = new CopyObjectCommand({
      Bucket: BUCKET,
      Key: "uploads/b.jpg",
      CopySource: `${BUCKET}/uploads/before.jpg`,
    });
    expect((await failure(clients.s3.send(copy))).status).toBe(500);
    // A delete of a key that does not exist causes no event: it still succeeds.
    await clients.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "uploads/never-existed.jpg" }));

    disk.full = false;
    await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "uploads/after.jpg", Body: "x" }));
    const seen = await keysOnQueue(clients.sqs, queueUrl, new Set(["uploads/before.jpg", "uploads/after.jpg"]));
    expect(seen).toContain("uploads/before.jpg");
    expect(seen).toContain("uploads/after.jpg");
  });
});

/** Mounts a tmpfs of `size` at `dir`; undefined if this machine does not allow it (not root, a container). */
function mountTmpfs(dir: string, size: string): string | undefined {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs for a small disk here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}); the fault-injecting journal test above still runs`;
  }
}

/** Writes zeros until the file system is full to the last byte; returns the filler's path. */
function fillDisk(dir: string): string {
  const filler = path.join(dir, "filler");
  const fd = openSync(filler, "w");
  try {
    for (const block of [64 * 1024, 4096, 1]) {
      try {
        for (;;) writeSync(fd, Buffer.alloc(block));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}

// A real full disk: DATA_DIR on a 4 MiB tmpfs, filled to the byte while the stack runs.
describe("DATA_DIR on a full disk", () => {
  const mountPoint = mkdtempSync(path.join(tmpdir(), "pipeline-small-disk-"));
  const dataDir = path.join(mountPoint, "data");
  let cannotMount: string | undefined;
  beforeAll(() => {
    cannotMount = mountTmpfs(mountPoint, "4m");
    if (!cannotMount) mkdirSync(dataDir);
  });
  afterAll(() => {
    if (!cannotMount) execFileSync("umount", ["-l", mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it("acknowledges no upload without its event, refuses to start in one sentence, and loses nothing once space is freed", async (ctx) => {
    skipUnlessSupported(ctx, cannotMount);
    let stack = await start(dataDir);
    let clients = stackClients(stack.endpoint);
    const queueUrl = await createBucketWithQueue(clients);
    const before = await burst(
      clients.s3,
      Array.from({ length: 5 }, (_, i) => `uploads/before-${i}.jpg`),
    );
    const filler = fillDisk(mountPoint);
    const keys = Array.from({ length: 20 }, (_, i) => `uploads/full-${i}.jpg`);
    const results = await Promise.allSettled(
      keys.map((Key) => clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: Buffer.alloc(20_000) }))),
    );
    const acknowledged = keys.filter((_, i) => results[i]?.status === "fulfilled");
    for (const result of results) {
      if (result.status === "rejected") {
        expect((result.reason as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(500);
      }
    }
    expect(acknowledged.length).toBeLessThan(keys.length);
    await stack.stop();

    // Start-up on the full disk: one sentence naming DATA_DIR, no uncaught exception.
    const refused = await start(dataDir).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (error: unknown) => error as Error,
    );
    expect(refused?.message).toMatch(/^The disk holding DATA_DIR \(.*\/data\) is full/);
    expect(refused?.message).not.toContain("\n");

    rmSync(filler);
    stack = await start(dataDir);
    clients = stackClients(stack.endpoint);
    try {
      const wanted = new Set([...before, ...acknowledged]);
      const seen = await keysOnQueue(clients.sqs, queueUrl, wanted);
      expect([...wanted].filter((key) => !seen.has(key))).toEqual([]);
      await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "uploads/freed.jpg", Body: "x" }));
      expect(await keysOnQueue(clients.sqs, queueUrl, new Set(["uploads/freed.jpg"]))).toContain("uploads/freed.jpg");
    } finally {
      await stack.stop();
    }
  });
});
