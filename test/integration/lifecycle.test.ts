import { setTimeout as sleep } from "node:timers/promises";
import { CopyObjectCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { S3Event } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClients, destroyClients } from "../../src/aws/clients.ts";
import { silentLogger } from "../../src/logger.ts";
import { createHandler } from "../../src/pipeline/handler.ts";
import { Metric } from "../../src/pipeline/metrics.ts";
import { startWorker } from "../../src/pipeline/worker.ts";
import { getImageItem, type ImageItem, imageIdFor } from "../../src/store/metadata.ts";
import { allImages } from "../../src/store/query.ts";
import { createPipeline, dimensionsOf, drainQueue, jpeg, type Pipeline, sqsRecord, waitFor } from "../helpers.ts";
import { s3Event, sequencerAfter } from "../s3-events.ts";

// Items and thumbnails follow S3 exactly: overwrites, deletes, moves, folder markers, plain
// messages. Events come from the stack where it sends them (uploads) and from a factory
// where the test must decide the order (removals, late and redelivered events).
describe("object lifecycle", () => {
  let p: Pipeline;
  let big: Buffer;
  let seq = 0;
  const unique = (name: string) => `${++seq}-${name}`;

  beforeAll(async () => {
    p = await createPipeline();
    await drainQueue(p.clients, p.queueUrl); // S3's test event
    big = await jpeg(6000, 4000);
  });
  afterAll(() => p.close());

  /** The next message the stack put on the queue (within 10 s), kept from any worker. */
  async function nextEvent(): Promise<string> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const res = await p.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: p.queueUrl,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 300,
        }),
      );
      const body = res.Messages?.[0]?.Body;
      if (body) return body;
    }
    throw new Error("no event on the queue within 10 s");
  }

  function handler(counts?: { processed: number; failed: number }) {
    return createHandler({
      config: p.config,
      clients: p.clients,
      logger: silentLogger,
      metrics: (values) => {
        if (!counts) return;
        counts.processed += values[Metric.Processed] ?? 0;
        counts.failed += values[Metric.Failed] ?? 0;
      },
    });
  }

  async function deliver(body: string | S3Event | object, h = handler()): Promise<void> {
    const response = await h({ Records: [sqsRecord(`m${++seq}`, body)] });
    expect(response.batchItemFailures).toEqual([]);
  }

  function sequencerOf(body: string): string {
    return (JSON.parse(body) as S3Event).Records[0]?.s3.object.sequencer ?? "";
  }

  function removal(key: string, sequencer: string): S3Event {
    return s3Event({ bucket: p.config.names.uploadsBucket, key, eventName: "ObjectRemoved:Delete", sequencer });
  }

  const item = (key: string) => getImageItem(p.clients, p.config.names, imageIdFor(p.config.names.uploadsBucket, key));

  async function thumbnailObjects(key: string): Promise<string[]> {
    const imageId = imageIdFor(p.config.names.uploadsBucket, key);
    const listed = await p.clients.s3.send(
      new ListObjectsV2Command({ Bucket: p.config.names.thumbnailsBucket, Prefix: `${imageId}/` }),
    );
    return (listed.Contents ?? []).map((o) => o.Key ?? "").sort();
  }

  /** Every thumbnail the item names exists, decodes to the size the item says, and is the only one left. */
  async function expectThumbnailsOf(current: ImageItem): Promise<void> {
    for (const thumb of current.thumbnails ?? []) {
      const data = await p.getObject(p.config.names.thumbnailsBucket, thumb.key);
      expect(await dimensionsOf(data)).toMatchObject({ width: thumb.width, height: thumb.height });
    }
    // The losing version removes its thumbnails after its write fails: give it a moment.
    const wanted = (current.thumbnails ?? []).map((t) => t.key).sort();
    await waitFor(
      async () => (JSON.stringify(await thumbnailObjects(current.key)) === JSON.stringify(wanted) ? true : undefined),
      5000,
      `only the thumbnails of the current version under ${current.imageId}/`,
    ).catch(async () => expect(await thumbnailObjects(current.key)).toEqual(wanted));
  }

  async function putObject(key: string, body: Buffer): Promise<void> {
    await p.clients.s3.send(new PutObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: key, Body: body }));
  }

  describe("a big upload overwritten by a small one", () => {
    /**
     * A handler on its own S3 client (another worker or Lambda invocation) whose thumbnail
     * writes wait until `release` resolves: the slow decode of the big image, made
     * certain. The emulator and the SDK are real; the middleware only delays the request.
     */
    function slowWriter(release: Promise<void>) {
      const clients = createClients(p.config);
      clients.s3.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === "PutObjectCommand") await release;
          return next(args);
        },
        { step: "initialize", name: "holdThumbnailWrites" },
      );
      return { clients, handler: createHandler({ config: p.config, clients, logger: silentLogger }) };
    }

    it.each([0, 50, 150, 300])(
      "%i ms later ends with the small image's item and thumbnails, even when the big one's are written last",
      async (delay) => {
        const small = await jpeg(300, 400);
        const key = await p.upload(unique(`overwrite-${delay}.jpg`), big);
        const first = await nextEvent();
        let release = () => {};
        const slow = slowWriter(new Promise<void>((resolve) => (release = resolve)));
        try {
          const older = slow.handler({ Records: [sqsRecord("older", first)] });
          await sleep(delay);
          await p.upload(key.slice(p.config.uploadPrefix.length), small);
          await deliver(await nextEvent());
          release();
          expect((await older).batchItemFailures).toEqual([]);
        } finally {
          release();
          destroyClients(slow.clients);
        }

        const current = (await item(key)) as ImageItem;
        expect(current).toMatchObject({ status: "PROCESSED", width: 300, height: 400 });
        expect(current.thumbnails?.map((t) => [t.width, t.height])).toEqual([
          [96, 128],
          [300, 400],
        ]);
        await expectThumbnailsOf(current);
      },
    );

    it("ends consistent when a worker takes both events as they come", async () => {
      const worker = await startWorker({ config: p.config, clients: p.clients, logger: silentLogger });
      try {
        for (const delay of [0, 50, 150, 300]) {
          const key = await p.upload(unique(`worker-overwrite-${delay}.jpg`), big);
          await sleep(delay);
          await p.upload(key.slice(p.config.uploadPrefix.length), await jpeg(300, 400));
          const current = await p.waitForItem(key, (i) => i.width === 300);
          await sleep(500); // a late event of the big upload would land now
          expect(await item(key)).toEqual(current);
          await expectThumbnailsOf(current);
        }
      } finally {
        await worker.stop();
      }
    });
  });

  it("follows `aws s3 rm` and `aws s3 mv` end to end: the worker gets the stack's own events", async () => {
    const worker = await startWorker({ config: p.config, clients: p.clients, logger: silentLogger });
    try {
      const bucket = p.config.names.uploadsBucket;
      const gone = await p.upload(unique("rm.jpg"), await jpeg(120, 90));
      const from = await p.upload(unique("mv-from.jpg"), await jpeg(90, 120));
      await p.waitForItem(gone);
      await p.waitForItem(from);
      const to = `${p.config.uploadPrefix}${unique("mv-to.jpg")}`;
      await p.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: gone }));
      await p.clients.s3.send(
        new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: `${bucket}/${encodeURIComponent(from)}` }),
      );
      await p.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: from }));
      await p.waitForItem(gone, (i) => i.status === "DELETED");
      await p.waitForItem(from, (i) => i.status === "DELETED");
      await p.waitForItem(to, (i) => i.status === "PROCESSED");
      const keys = (await allImages(p.config, p.clients)).map((i) => i.key);
      expect(keys).toContain(to);
      expect(keys).not.toContain(gone);
      expect(keys).not.toContain(from);
      expect(await thumbnailObjects(gone)).toEqual([]);
      expect(await thumbnailObjects(from)).toEqual([]);
    } finally {
      await worker.stop();
    }
  });

  it("keeps the newer upload when the older event is redelivered after it", async () => {
    const key = await p.upload(unique("redelivered.jpg"), await jpeg(400, 300));
    const older = await nextEvent();
    await p.upload(key.slice(p.config.uploadPrefix.length), await jpeg(300, 400));
    const newer = await nextEvent();
    await deliver(older);
    await deliver(newer);
    await deliver(older);
    const current = (await item(key)) as ImageItem;
    expect([current.width, current.height]).toEqual([300, 400]);
    await expectThumbnailsOf(current);
  });

  it("removes item and thumbnails on a delete, and an old event redelivered afterwards changes nothing", async () => {
    const key = await p.upload(unique("deleted.jpg"), await jpeg(200, 200));
    const created = await nextEvent();
    await deliver(created);
    expect((await thumbnailObjects(key)).length).toBe(2);
    await p.clients.s3.send(new DeleteObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: key }));
    const removed = await nextEvent();
    expect(JSON.parse(removed)).toMatchObject({ Records: [{ eventName: "ObjectRemoved:Delete" }] });
    await deliver(removed);
    await deliver(created);
    expect(await item(key)).toMatchObject({ status: "DELETED", key });
    expect(await thumbnailObjects(key)).toEqual([]);
    const listed = await allImages(p.config, p.clients);
    expect(listed.map((i) => i.key)).not.toContain(key);
  });

  it("does not resurrect an image whose create event arrives after its delete", async () => {
    const key = await p.upload(unique("late-create.jpg"), await jpeg(200, 200));
    const created = await nextEvent();
    await p.clients.s3.send(new DeleteObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: key }));
    await deliver(await nextEvent()); // ObjectRemoved:Delete
    await deliver(created);
    const tombstone = await item(key);
    expect(tombstone).toMatchObject({ status: "DELETED" });
    expect(tombstone?.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(await thumbnailObjects(key)).toEqual([]);
  });

  it("lets a delete older than the recorded upload remove nothing", async () => {
    const key = await p.upload(unique("old-delete.jpg"), await jpeg(200, 200));
    const created = await nextEvent();
    await deliver(created);
    const before = (await item(key)) as ImageItem;
    // A delete S3 ordered before this upload (the key was deleted, then uploaded again).
    await deliver(removal(key, sequencerAfter(sequencerOf(created), -1)));
    expect(await item(key)).toEqual(before);
    await expectThumbnailsOf(before);
  });

  it("ends a move (copy, then delete) with exactly the new key", async () => {
    const from = await p.upload(unique("move-from.jpg"), await jpeg(320, 240));
    await deliver(await nextEvent());
    const to = `${p.config.uploadPrefix}${unique("move-to.jpg")}`;
    const bucket = p.config.names.uploadsBucket;
    await p.clients.s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: `${bucket}/${encodeURIComponent(from)}` }),
    );
    const copied = await nextEvent();
    await p.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: from }));
    const removed = await nextEvent();
    await deliver(copied);
    await deliver(removed);

    const keys = (await allImages(p.config, p.clients)).map((i) => i.key);
    expect(keys).toContain(to);
    expect(keys).not.toContain(from);
    expect(await thumbnailObjects(from)).toEqual([]);
    expect(await item(to)).toMatchObject({ status: "PROCESSED", width: 320, height: 240 });
  });

  it("skips folder markers and the upload prefix itself: no item, no failure, no alert", async () => {
    const alerts: ImageItem[] = [];
    const h = createHandler({
      config: p.config,
      clients: p.clients,
      logger: silentLogger,
      notifyFailure: async (failed) => {
        alerts.push(failed);
      },
    });
    const folder = `${p.config.uploadPrefix}${unique("album")}/`;
    for (const key of [folder, p.config.uploadPrefix]) {
      await putObject(key, Buffer.alloc(0));
      await deliver(await nextEvent(), h);
      expect(await item(key)).toBeUndefined();
    }
    expect(alerts).toEqual([]);
  });

  it("removes the previous thumbnails when an image is replaced by a broken file", async () => {
    const key = await p.upload(unique("broken-later.jpg"), await jpeg(200, 200));
    await deliver(await nextEvent());
    await putObject(key, Buffer.from("not an image at all"));
    await deliver(await nextEvent());
    expect(await item(key)).toMatchObject({ status: "FAILED", errorCode: "NOT_AN_IMAGE" });
    expect(await thumbnailObjects(key)).toEqual([]);
  });

  describe("the original project's plain message {bucket_name, image_key}", () => {
    const plain = (key: string) => ({ bucket_name: p.config.names.uploadsBucket, image_key: key });

    it("before the S3 event: one processing, and the event's sequencer and time are kept", async () => {
      const key = await p.upload(unique("plain-first.jpg"), await jpeg(256, 256));
      const event = await nextEvent();
      const counts = { processed: 0, failed: 0 };
      const h = handler(counts);
      await deliver(plain(key), h);
      const first = (await item(key)) as ImageItem;
      await deliver(event, h);
      const after = (await item(key)) as ImageItem;
      expect(counts.processed).toBe(1);
      const record = (JSON.parse(event) as S3Event).Records[0];
      expect(after.sequencer.startsWith(record?.s3.object.sequencer ?? "?")).toBe(true);
      expect(after.uploadDate).toBe(record?.eventTime);
      expect(after.thumbnails).toEqual(first.thumbnails);
      await expectThumbnailsOf(after);
    });

    it("after the S3 event: no second processing and never a downgrade", async () => {
      const key = await p.upload(unique("plain-after.jpg"), await jpeg(256, 256));
      const counts = { processed: 0, failed: 0 };
      const h = handler(counts);
      await deliver(await nextEvent(), h);
      const before = (await item(key)) as ImageItem;
      await deliver(plain(key), h);
      expect(await item(key)).toEqual(before);
      expect(counts.processed).toBe(1);
    });

    it("in the same batch as the S3 event: one processing, one item", async () => {
      const key = await p.upload(unique("plain-same-batch.jpg"), await jpeg(256, 256));
      const event = await nextEvent();
      const counts = { processed: 0, failed: 0 };
      const response = await handler(counts)({
        Records: [sqsRecord("plain", plain(key)), sqsRecord("event", event)],
      });
      expect(response.batchItemFailures).toEqual([]);
      expect(counts.processed).toBe(1);
      const after = (await item(key)) as ImageItem;
      expect(after.sequencer.startsWith(sequencerOf(event))).toBe(true);
      await expectThumbnailsOf(after);
    });

    it("for an object replaced since the item was written: the new content, and the old event still loses", async () => {
      const key = await p.upload(unique("plain-newer.jpg"), await jpeg(400, 300));
      const older = await nextEvent();
      await deliver(older);
      await p.upload(key.slice(p.config.uploadPrefix.length), await jpeg(300, 400));
      await nextEvent(); // the newer upload's event, lost for this test
      await deliver(plain(key));
      await deliver(older);
      const current = (await item(key)) as ImageItem;
      expect([current.width, current.height]).toEqual([300, 400]);
      await expectThumbnailsOf(current);
    });
  });
});
