import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  burst,
  createBucketWithQueue,
  freePort,
  keysOnQueue,
  spawnStack,
  stackClients,
  waitUntilHealthy,
} from "../stack-process.ts";
import { exited } from "../worker-process.ts";

// The stack as its own process on a data folder, killed and started again: always embedded.
// S3's promise: once an upload was answered 2xx, its event reaches the queue at least once.
// A stack process starts in ~2 s on an idle machine, in 10 s or more on a busy one.
describe("the embedded stack killed right after acknowledging uploads", { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "pipeline-crash-"));
  let port: number;
  let endpoint: string;
  let stack: ChildProcess & { output: string[] };
  let clients: ReturnType<typeof stackClients>;
  let queueUrl: string;

  async function start(): Promise<void> {
    stack = spawnStack(port, dataDir);
    await waitUntilHealthy(endpoint, stack);
  }

  /** The whole process group, as `kill -9 -<pgid>` would. */
  async function kill(signal: NodeJS.Signals): Promise<void> {
    process.kill(-(stack.pid ?? 0), signal);
    await exited(stack, 15_000);
  }

  beforeAll(async () => {
    port = await freePort();
    endpoint = `http://localhost:${port}`;
    clients = stackClients(endpoint);
    await start();
    queueUrl = await createBucketWithQueue(clients);
  });
  afterAll(async () => {
    if (stack.exitCode === null && stack.signalCode === null) await kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const delayMs of [0, 50, 200]) {
    it(`delivers every acknowledged upload's event after a SIGKILL ${delayMs} ms after the last 2xx`, async () => {
      const keys = Array.from({ length: 50 }, (_, i) => `uploads/kill-${delayMs}ms-${i}.jpg`);
      const acknowledged = await burst(clients.s3, keys);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      await kill("SIGKILL");
      expect(acknowledged).toHaveLength(50);

      await start();
      const seen = await keysOnQueue(clients.sqs, queueUrl, new Set(acknowledged));
      expect(acknowledged.filter((key) => !seen.has(key))).toEqual([]);
    });
  }

  it("delivers every acknowledged upload's event after a SIGINT in the middle of a burst", async () => {
    const keys = Array.from({ length: 150 }, (_, i) => `uploads/sigint-${i}.jpg`);
    let acks = 0;
    let interrupted: Promise<void> | undefined;
    const acknowledged = await burst(clients.s3, keys, () => {
      acks++;
      if (acks === 50) interrupted = kill("SIGINT");
    });
    await interrupted;
    expect(acknowledged.length).toBeGreaterThanOrEqual(50);

    await start();
    const seen = await keysOnQueue(clients.sqs, queueUrl, new Set(acknowledged));
    expect(acknowledged.filter((key) => !seen.has(key))).toEqual([]);
  });
});
