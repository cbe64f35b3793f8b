import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { createClients, destroyClients } from "../../src/aws/clients.ts";
import { loadConfig } from "../../src/config.ts";
import { startEmbeddedStack } from "../../src/embedded/stack.ts";
import { silentLogger } from "../../src/logger.ts";
import { startWorker } from "../../src/pipeline/worker.ts";
import { ensureResources } from "../../src/provision/resources.ts";
import { getImageItem, imageIdFor } from "../../src/store/metadata.ts";
import { drainQueue, jpeg, waitFor } from "../helpers.ts";

// Its own embedded stack on a data folder, stopped and started again: always embedded.
describe("embedded stack state across a restart", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "pipeline-persist-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const start = () =>
    startEmbeddedStack({ port: 0, host: "127.0.0.1", region: "us-east-1", dataDir, logger: silentLogger });

  it("keeps resources, uploads, thumbnails, items and the notification setup", async () => {
    let stack = await start();
    let config = loadConfig({ AWS_ENDPOINT_URL: stack.endpoint, WORKER_WAIT_SECONDS: "1" });
    let clients = createClients(config);
    await ensureResources(config, clients);
    const worker = await startWorker({ config, clients, logger: silentLogger });
    const key = "uploads/kept.jpg";
    await clients.s3.send(
      new PutObjectCommand({ Bucket: config.names.uploadsBucket, Key: key, Body: await jpeg(320, 240) }),
    );
    const imageId = imageIdFor(config.names.uploadsBucket, key);
    const item = await waitFor(() => getImageItem(clients, config.names, imageId), 20_000, "item");
    await worker.stop();
    destroyClients(clients);
    await stack.stop();

    stack = await start();
    config = loadConfig({ AWS_ENDPOINT_URL: stack.endpoint });
    clients = createClients(config);
    try {
      const second = await ensureResources(config, clients);
      expect(second.filter((r) => r.state !== "exists" && r.state !== "unavailable")).toEqual([]);
      expect(await getImageItem(clients, config.names, imageId)).toEqual(item);
      const thumb = await clients.s3.send(
        new GetObjectCommand({ Bucket: config.names.thumbnailsBucket, Key: item.thumbnails?.[0]?.key }),
      );
      expect(thumb.ContentLength).toBe(item.thumbnails?.[0]?.bytes);
      // Notifications still flow after the restart.
      const url = second.find((r) => r.kind === "sqs-queue" && r.name === config.names.queue)?.url ?? "";
      await drainQueue(clients, url);
      await clients.s3.send(
        new PutObjectCommand({ Bucket: config.names.uploadsBucket, Key: "uploads/after.jpg", Body: "x" }),
      );
      const bodies = await drainQueue(clients, url, 2);
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toContain("uploads/after.jpg");
    } finally {
      destroyClients(clients);
      await stack.stop();
    }
  });
});
