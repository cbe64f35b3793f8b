import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import { createHandler } from "../../src/pipeline/handler.ts";
import { getImageItem, ImageStatus, imageIdFor, listShardFor, putImageItem } from "../../src/store/metadata.ts";
import { reconcile } from "../../src/store/reconcile.ts";
import { createPipeline, drainQueue, jpeg, type Pipeline, sqsRecord } from "../helpers.ts";

// A bucket and a table made inconsistent on purpose, as an outage or a lost event leaves them.
describe("images reconcile", () => {
  let p: Pipeline;
  const keys = {
    fine: "uploads/fine.jpg",
    noItem: "uploads/no-item.jpg",
    gone: "uploads/gone.jpg",
    replaced: "uploads/replaced.jpg",
    tombstone: "uploads/long-deleted.jpg",
    folder: "uploads/album/",
  };
  const orphan = "0123456789abcdef0123456789abcdef/00-none/128.jpg";

  beforeAll(async () => {
    p = await createPipeline();
    const handler = createHandler({ config: p.config, clients: p.clients, logger: silentLogger });
    const bucket = p.config.names.uploadsBucket;
    const process = async () => {
      const bodies = await drainQueue(p.clients, p.queueUrl, 1);
      const response = await handler({ Records: bodies.map((b, i) => sqsRecord(`r${i}`, b)) });
      expect(response.batchItemFailures).toEqual([]);
    };
    await drainQueue(p.clients, p.queueUrl); // S3's test event
    for (const key of [keys.fine, keys.gone, keys.replaced]) {
      await p.upload(key.slice("uploads/".length), await jpeg(200, 150));
    }
    await process();
    // Lost events: an upload never processed, a delete and an overwrite never seen.
    await p.upload("no-item.jpg", await jpeg(150, 200));
    await p.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keys.gone }));
    await p.upload("replaced.jpg", await jpeg(100, 100));
    await p.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys.folder, Body: Buffer.alloc(0) }));
    await drainQueue(p.clients, p.queueUrl, 1);
    // A thumbnail nobody names (a worker killed between thumbnails and item), an old tombstone.
    await p.clients.s3.send(
      new PutObjectCommand({ Bucket: p.config.names.thumbnailsBucket, Key: orphan, Body: await jpeg(8, 8) }),
    );
    const id = imageIdFor(bucket, keys.tombstone);
    await putImageItem(p.clients, p.config.names, {
      imageId: id,
      bucket,
      key: keys.tombstone,
      name: "long-deleted.jpg",
      status: ImageStatus.Deleted,
      sequencer: "00".padEnd(32, "0"),
      uploadDate: "2026-01-01T00:00:00.000Z",
      processedAt: "2026-01-02T00:00:00.000Z",
      processingMs: 0,
      expiresAt: 1_000_000,
    });
    expect(listShardFor(id)).toBeDefined();
  });
  afterAll(() => p.close());

  const item = (key: string) => getImageItem(p.clients, p.config.names, imageIdFor(p.config.names.uploadsBucket, key));

  it("reports every difference with --dry-run and changes nothing", async () => {
    const goneBefore = await item(keys.gone);
    const report = await reconcile(p.config, p.clients, { dryRun: true, graceSeconds: 0 });
    expect(report.listed).toEqual({ objects: 3, items: 4, thumbnails: 7 });
    expect(report.counts).toEqual({
      queued: 2,
      "removed-item": 1,
      "deleted-thumbnail": 3,
      "removed-tombstone": 1,
      "left-recent-thumbnail": 0,
    });
    expect(
      report.actions
        .filter((a) => a.action === "queued")
        .map((a) => a.key)
        .sort(),
    ).toEqual([keys.noItem, keys.replaced]);
    expect(await item(keys.gone)).toEqual(goneBefore);
    expect(await drainQueue(p.clients, p.queueUrl, 1)).toEqual([]);
  });

  it("leaves a fresh unnamed thumbnail alone within the grace period", async () => {
    const report = await reconcile(p.config, p.clients, { dryRun: true, graceSeconds: 600 });
    expect(report.counts["left-recent-thumbnail"]).toBe(1);
    expect(report.actions.find((a) => a.action === "left-recent-thumbnail")?.key).toBe(orphan);
  });

  it("repairs them: queues, removes, deletes; after the worker, a second run finds nothing", async () => {
    const report = await reconcile(p.config, p.clients, { dryRun: false, graceSeconds: 0 });
    expect(report.counts).toMatchObject({ queued: 2, "removed-item": 1, "deleted-thumbnail": 3 });
    expect(await item(keys.gone)).toBeUndefined();
    expect(await item(keys.tombstone)).toBeUndefined();

    const queued = await drainQueue(p.clients, p.queueUrl, 1);
    expect(queued.map((b) => JSON.parse(b).image_key).sort()).toEqual([keys.noItem, keys.replaced]);
    const handler = createHandler({ config: p.config, clients: p.clients, logger: silentLogger });
    const response = await handler({ Records: queued.map((b, i) => sqsRecord(`q${i}`, b)) });
    expect(response.batchItemFailures).toEqual([]);
    expect(await item(keys.noItem)).toMatchObject({ status: "PROCESSED", width: 150, height: 200 });
    expect(await item(keys.replaced)).toMatchObject({ status: "PROCESSED", width: 100, height: 100 });
    expect(await item(keys.folder)).toBeUndefined();

    const again = await reconcile(p.config, p.clients, { dryRun: false, graceSeconds: 0 });
    expect(again.actions).toEqual([]);
    expect(again.listed).toEqual({ objects: 3, items: 3, thumbnails: 6 });
  });
});
