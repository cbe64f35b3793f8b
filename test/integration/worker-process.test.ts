import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Clients, createClients, destroyClients } from "../../src/aws/clients.ts";
import { queueDepth } from "../../src/aws/queues.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { startEmbeddedStack } from "../../src/embedded/stack.ts";
import { silentLogger } from "../../src/logger.ts";
import { ensureResources } from "../../src/provision/resources.ts";
import { getImageItem, imageIdFor } from "../../src/store/metadata.ts";
import { allImages } from "../../src/store/query.ts";
import { createPipeline, jpeg, type Pipeline, waitFor } from "../helpers.ts";
import { exited, spawnWorker } from "../worker-process.ts";

async function countItems(config: Config, clients: Clients): Promise<{ total: number; keys: Set<string> }> {
  const items = await allImages(config, clients);
  return { total: items.length, keys: new Set(items.map((item) => item.key)) };
}

/** Messages waiting or in flight on a queue, by name. */
async function depth(clients: Clients, name: string): Promise<number> {
  const found = await queueDepth(clients, name);
  return (found?.waiting ?? 0) + (found?.inFlight ?? 0);
}

// The worker as a real process: killed with SIGKILL, stopped with SIGTERM, cut off from its stack.
describe("the worker process", () => {
  describe("on the shared test backend", () => {
    let p: Pipeline;
    beforeAll(async () => {
      p = await createPipeline({ env: { VISIBILITY_TIMEOUT_SECONDS: "3" } });
    });
    afterAll(() => p.close());

    it("processes every upload of a burst exactly once after a kill -9 in the middle", async () => {
      const uploads = 40;
      let worker = spawnWorker(p.config);
      const image = await jpeg(1600, 1200);
      await Promise.all(Array.from({ length: uploads }, (_, i) => p.upload(`burst-${i}.jpg`, image, "image/jpeg")));
      await waitFor(
        async () => ((await countItems(p.config, p.clients)).total >= 5 ? true : undefined),
        30_000,
        "the first items",
      );
      worker.kill("SIGKILL");
      expect((await exited(worker, 5000)).signal).toBe("SIGKILL");
      const atKill = (await countItems(p.config, p.clients)).total;
      expect(atKill).toBeLessThan(uploads);

      worker = spawnWorker(p.config);
      try {
        const done = await waitFor(
          async () => {
            const counted = await countItems(p.config, p.clients);
            return counted.total >= uploads ? counted : undefined;
          },
          60_000,
          `${uploads} items`,
        );
        // One item per upload, no duplicates, nothing left on the queues.
        expect(done.total).toBe(uploads);
        expect(done.keys.size).toBe(uploads);
        await waitFor(
          async () => ((await depth(p.clients, p.config.names.queue)) === 0 ? true : undefined),
          15_000,
          "an empty queue",
        );
        expect(await depth(p.clients, p.config.names.deadLetterQueue)).toBe(0);
      } finally {
        worker.kill("SIGTERM");
        await exited(worker, 20_000);
      }
    });

    it("finishes the images it holds on SIGTERM and exits 0, leaving nothing in flight", async () => {
      const worker = spawnWorker(p.config);
      const image = await jpeg(4000, 3000);
      const keys = await Promise.all(Array.from({ length: 8 }, (_, i) => p.upload(`term-${i}.jpg`, image)));
      // Wait until the worker holds messages (in flight), then ask it to stop.
      await waitFor(
        async () => (((await queueDepth(p.clients, p.config.names.queue))?.inFlight ?? 0) > 0 ? true : undefined),
        20_000,
        "messages in flight",
      );
      const started = Date.now();
      worker.kill("SIGTERM");
      const { code } = await exited(worker, 30_000);
      expect(code).toBe(0);
      expect(Date.now() - started).toBeLessThan(3000 * 10);
      const left = await queueDepth(p.clients, p.config.names.queue);
      // Everything it had received is processed and deleted; the rest waits on the queue.
      expect(left?.inFlight).toBe(0);
      const processed = await Promise.all(
        keys.map((key) => getImageItem(p.clients, p.config.names, imageIdFor(p.config.names.uploadsBucket, key))),
      );
      expect(processed.filter(Boolean).length + (left?.waiting ?? 0)).toBe(keys.length);
      expect(worker.output.join("")).toContain("worker stopped");
    });
  });

  describe("with a visibility timeout shorter than the job", () => {
    let p: Pipeline;
    beforeAll(async () => {
      p = await createPipeline({ env: { VISIBILITY_TIMEOUT_SECONDS: "2" } });
    });
    afterAll(() => p.close());

    it("extends the message's visibility while it works, so a slow image is processed once", async () => {
      // A 4096-px AVIF thumbnail takes seconds to encode: longer than the 2 s visibility timeout.
      const worker = spawnWorker(p.config, { THUMBNAIL_SIZES: "4096", THUMBNAIL_FORMAT: "avif" });
      try {
        const noise = await sharp({
          create: {
            width: 4096,
            height: 4096,
            channels: 3,
            background: "#000",
            noise: { type: "gaussian", mean: 128, sigma: 40 },
          },
        })
          .jpeg()
          .toBuffer();
        const key = await p.upload("slow.jpg", noise);
        const started = Date.now();
        const item = await p.waitForItem(key, undefined, 60_000);
        expect(item.processingMs).toBeGreaterThan(2000);
        expect(Date.now() - started).toBeGreaterThan(2000);
        await waitFor(
          async () => ((await depth(p.clients, p.config.names.queue)) === 0 ? true : undefined),
          10_000,
          "empty queue",
        );
        const processedLines = worker.output
          .join("")
          .split("\n")
          .filter((line) => line.includes('"msg":"processed"') && line.includes("uploads/slow.jpg"));
        expect(processedLines).toHaveLength(1);
      } finally {
        worker.kill("SIGTERM");
        await exited(worker, 30_000);
      }
    });
  });

  // Its own embedded stack, stopped and started on the same port while the worker runs.
  describe("when the embedded stack restarts", () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "pipeline-restart-"));
    afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

    it("backs off, resumes and never exits", async () => {
      const port = await freePort();
      const start = () =>
        startEmbeddedStack({ port, host: "127.0.0.1", region: "us-east-1", dataDir, logger: silentLogger });
      let stack = await start();
      const config = loadConfig({
        AWS_ENDPOINT_URL: stack.endpoint,
        NAME_PREFIX: "restart",
        VISIBILITY_TIMEOUT_SECONDS: "5",
      });
      let clients = createClients(config);
      await ensureResources(config, clients);
      const worker = spawnWorker(config);
      try {
        await clients.s3.send(
          new PutObjectCommand({
            Bucket: config.names.uploadsBucket,
            Key: "uploads/before.jpg",
            Body: await jpeg(200, 100),
          }),
        );
        await waitFor(
          () => getImageItem(clients, config.names, imageIdFor(config.names.uploadsBucket, "uploads/before.jpg")),
          20_000,
          "the first item",
        );
        destroyClients(clients);
        await stack.stop();
        await new Promise((r) => setTimeout(r, 3000));
        expect(worker.exitCode).toBeNull();

        stack = await start();
        clients = createClients(config);
        await clients.s3.send(
          new PutObjectCommand({
            Bucket: config.names.uploadsBucket,
            Key: "uploads/after.jpg",
            Body: await jpeg(100, 200),
          }),
        );
        const item = await waitFor(
          () => getImageItem(clients, config.names, imageIdFor(config.names.uploadsBucket, "uploads/after.jpg")),
          30_000,
          "an item after the restart",
        );
        expect(item.status).toBe("PROCESSED");
        expect(worker.exitCode).toBeNull();
        const log = worker.output.join("");
        expect(log).toContain("queue unreachable");
        expect(log).toContain("queue reachable again");
      } finally {
        worker.kill("SIGTERM");
        await exited(worker, 20_000);
        destroyClients(clients);
        await stack.stop();
      }
    });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
