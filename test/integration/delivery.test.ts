import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Clients } from "../../src/aws/clients.ts";
import { queueUrl } from "../../src/aws/lookups.ts";
import { queueDepth } from "../../src/aws/queues.ts";
import type { Config } from "../../src/config.ts";
import { silentLogger } from "../../src/logger.ts";
import { createHandler } from "../../src/pipeline/handler.ts";
import { startWorker } from "../../src/pipeline/worker.ts";
import { type ImageItem, putImageItem } from "../../src/store/metadata.ts";
import { allImages } from "../../src/store/query.ts";
import { createPipeline, drainQueue, jpeg, type Pipeline, sqsRecord, waitFor } from "../helpers.ts";

const allItems = (p: { config: Config; clients: Clients }): Promise<ImageItem[]> => allImages(p.config, p.clients);

describe("delivery semantics", () => {
  describe("at-least-once delivery, handled idempotently", () => {
    let p: Pipeline;
    beforeAll(async () => {
      p = await createPipeline();
      await drainQueue(p.clients, p.queueUrl);
    });
    afterAll(() => p.close());

    it("ends in one item and one set of thumbnails when the same event arrives 1, 2 or 5 times, even concurrently", async () => {
      const key = await p.upload("dup.jpg", await jpeg(640, 480));
      const [body] = await drainQueue(p.clients, p.queueUrl, 2);
      expect(body).toBeDefined();
      const handler = createHandler({ config: p.config, clients: p.clients, logger: silentLogger });
      const second = createHandler({ config: p.config, clients: p.clients, logger: silentLogger });
      await handler({ Records: [sqsRecord("a", body ?? "")] });
      await handler({ Records: [sqsRecord("b", body ?? ""), sqsRecord("c", body ?? "")] });
      const results = await Promise.all([
        handler({ Records: [1, 2, 3].map((i) => sqsRecord(`d${i}`, body ?? "", i)) }),
        second({ Records: [4, 5].map((i) => sqsRecord(`e${i}`, body ?? "", i)) }),
      ]);
      expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);

      const items = await allItems(p);
      expect(items.map((i) => i.key)).toEqual([key]);
      const thumbs = await p.clients.s3.send(
        new ListObjectsV2Command({ Bucket: p.config.names.thumbnailsBucket, Prefix: `${items[0]?.imageId}/` }),
      );
      expect(thumbs.KeyCount).toBe(p.config.thumbnails.sizes.length);
    });

    it("never lets an older event arriving late overwrite a newer upload", async () => {
      await p.upload("order.jpg", await jpeg(400, 300));
      const [older] = await drainQueue(p.clients, p.queueUrl, 2);
      await p.upload("order.jpg", await jpeg(300, 400));
      const [newer] = await drainQueue(p.clients, p.queueUrl, 2);
      const handler = createHandler({ config: p.config, clients: p.clients, logger: silentLogger });
      await handler({ Records: [sqsRecord("new", newer ?? "")] });
      const response = await handler({ Records: [sqsRecord("old", older ?? "")] });
      expect(response.batchItemFailures).toEqual([]);
      const item = (await allItems(p)).find((i) => i.key === "uploads/order.jpg");
      expect([item?.width, item?.height]).toEqual([300, 400]);
    });

    it("refuses, by condition expression, an item write older than the one stored", async () => {
      const base = (await allItems(p)).find((i) => i.key === "uploads/order.jpg") as ImageItem;
      const older = { ...base, sequencer: "0".repeat(32), eTag: "different", width: 1 };
      expect(await putImageItem(p.clients, p.config.names, older)).toEqual({ result: "stale" });
      expect(await putImageItem(p.clients, p.config.names, { ...base, processingMs: 1 })).toMatchObject({
        result: "written",
      });
    });
  });

  describe("transient failures", () => {
    let p: Pipeline;
    beforeAll(async () => {
      p = await createPipeline({ env: { MAX_RECEIVE_COUNT: "2", VISIBILITY_TIMEOUT_SECONDS: "2" } });
    });
    afterAll(() => p.close());

    it("are retried through the visibility timeout and land in the dead-letter queue", async () => {
      // Thumbnails go to a bucket that does not exist: every attempt fails with a 404 from S3.
      const failing = await startWorker({
        config: { ...p.config, names: { ...p.config.names, thumbnailsBucket: `${p.config.names.prefix}-missing` } },
        clients: p.clients,
        logger: silentLogger,
      });
      try {
        await drainQueue(p.clients, p.queueUrl); // S3's test event
        await p.upload("doomed.jpg", await jpeg(100, 100));
        const dlqUrl = (await queueUrl(p.clients, p.config.names.deadLetterQueue)) ?? "";
        const dead = await waitFor(
          async () =>
            ((await queueDepth(p.clients, p.config.names.deadLetterQueue))?.waiting ?? 0) > 0 ? true : undefined,
          30_000,
          "a message in the dead-letter queue",
        );
        expect(dead).toBe(true);
        const [body] = await drainQueue(p.clients, dlqUrl);
        expect(body).toContain("uploads/doomed.jpg");
        expect(await allItems(p)).toEqual([]);
      } finally {
        await failing.stop();
      }
    });
  });
});
