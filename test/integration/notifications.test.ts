import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand as GetSqsQueueAttributes } from "@aws-sdk/client-sqs";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeSequencer, parseMessageBody } from "../../src/pipeline/events.ts";
import { createPipeline, drainQueue, type Pipeline } from "../helpers.ts";

// No worker here: the test reads the queue itself to count notifications.
describe("S3 → SQS notifications", () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await createPipeline();
    await drainQueue(p.clients, p.queueUrl); // S3's s3:TestEvent
  });
  afterAll(() => p.close());

  async function createdKeys(): Promise<{ key: string; eventName: string; size?: number; sequencer?: string }[]> {
    const bodies = await drainQueue(p.clients, p.queueUrl, 2);
    return bodies.flatMap((body) => {
      const parsed = parseMessageBody(body);
      return parsed.kind === "objects" ? parsed.objects : [];
    });
  }

  it("sends exactly one S3 event per object created under uploads/, however it was created", async () => {
    const { s3, s3Presign } = p.clients;
    const bucket = p.config.names.uploadsBucket;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "uploads/put one.jpg", Body: "x" }));

    const putUrl = await getSignedUrl(
      s3Presign,
      new PutObjectCommand({ Bucket: bucket, Key: "uploads/presigned-put.jpg" }),
    );
    expect((await fetch(putUrl, { method: "PUT", body: "yy" })).ok).toBe(true);

    const post = await createPresignedPost(s3Presign, { Bucket: bucket, Key: "uploads/presigned+post.jpg" });
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append("file", new Blob(["zzz"]));
    expect((await fetch(post.url, { method: "POST", body: form })).status).toBeLessThan(300);

    const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "uploads/multipart.bin" }));
    const part = await s3.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: "uploads/multipart.bin",
        UploadId: mpu.UploadId,
        PartNumber: 1,
        Body: "part",
      }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: "uploads/multipart.bin",
        UploadId: mpu.UploadId,
        MultipartUpload: { Parts: [{ ETag: part.ETag, PartNumber: 1 }] },
      }),
    );

    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: "uploads/copy (1).jpg",
        CopySource: `${bucket}/uploads/put%20one.jpg`,
      }),
    );

    const events = await createdKeys();
    expect(events.map((e) => e.key).sort()).toEqual(
      [
        "uploads/put one.jpg",
        "uploads/presigned-put.jpg",
        "uploads/presigned+post.jpg",
        "uploads/multipart.bin",
        "uploads/copy (1).jpg",
      ].sort(),
    );
    const byKey = Object.fromEntries(events.map((e) => [e.key, e]));
    expect(byKey["uploads/put one.jpg"]).toMatchObject({ eventName: "ObjectCreated:Put", size: 1 });
    expect(byKey["uploads/presigned+post.jpg"]?.eventName).toBe("ObjectCreated:Post");
    expect(byKey["uploads/copy (1).jpg"]?.eventName).toBe("ObjectCreated:Copy");
    expect(byKey["uploads/multipart.bin"]?.eventName).toBe("ObjectCreated:CompleteMultipartUpload");
  });

  it("sends nothing for other prefixes or for the thumbnails bucket", async () => {
    const { s3 } = p.clients;
    await s3.send(new PutObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: "elsewhere/a.jpg", Body: "x" }));
    await s3.send(new PutObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: "uploadsX.jpg", Body: "x" }));
    await s3.send(new PutObjectCommand({ Bucket: p.config.names.thumbnailsBucket, Key: "uploads/a.jpg", Body: "x" }));
    expect(await createdKeys()).toEqual([]);
  });

  it("gives later uploads of a key greater sequencers", async () => {
    const { s3 } = p.clients;
    for (const body of ["1", "2", "3"]) {
      await s3.send(
        new PutObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: "uploads/again.jpg", Body: body }),
      );
    }
    const sequencers = (await createdKeys()).map((e) => e.sequencer ?? "");
    expect(sequencers).toHaveLength(3);
    expect([...sequencers].sort()).toEqual(sequencers);
  });
});

// S3's removal events, on a queue subscribed to s3:ObjectRemoved:* (the pipeline's own
// bootstrap decides separately whether it subscribes them).
describe("S3 → SQS removal notifications", () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await createPipeline();
    const attributes = await p.clients.sqs.send(
      new GetSqsQueueAttributes({ QueueUrl: p.queueUrl, AttributeNames: ["QueueArn"] }),
    );
    await p.clients.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: p.config.names.uploadsBucket,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: attributes.Attributes?.QueueArn,
              Events: ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
              Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "uploads/" }] } },
            },
          ],
        },
      }),
    );
    await drainQueue(p.clients, p.queueUrl); // S3's s3:TestEvent
  });
  afterAll(() => p.close());

  /** Every record on the queue, raw: the pipeline's parser only reads ObjectCreated. */
  async function records(): Promise<{ eventName: string; key: string; object: Record<string, unknown> }[]> {
    const bodies = await drainQueue(p.clients, p.queueUrl, 2);
    return bodies.flatMap((body) => {
      const json = JSON.parse(body) as { Records?: { eventName: string; s3: { object: Record<string, unknown> } }[] };
      return (json.Records ?? []).map((r) => ({
        eventName: r.eventName,
        key: decodeURIComponent(String(r.s3.object.key).replace(/\+/g, " ")),
        object: r.s3.object,
      }));
    });
  }

  it("sends ObjectRemoved:Delete for DeleteObject and each key of DeleteObjects, ordered after the key's creation", async () => {
    const { s3 } = p.clients;
    const Bucket = p.config.names.uploadsBucket;
    const keys = ["uploads/gone one.jpg", "uploads/batch-a.jpg", "uploads/batch+b.jpg", "elsewhere/c.jpg"];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: "x" }));
    await s3.send(new DeleteObjectCommand({ Bucket, Key: "uploads/gone one.jpg" }));
    await s3.send(
      new DeleteObjectsCommand({
        Bucket,
        Delete: {
          Objects: [{ Key: "uploads/batch-a.jpg" }, { Key: "uploads/batch+b.jpg" }, { Key: "elsewhere/c.jpg" }],
        },
      }),
    );

    const events = await records();
    const removed = events.filter((e) => e.eventName === "ObjectRemoved:Delete");
    expect(removed.map((e) => e.key).sort()).toEqual([
      "uploads/batch+b.jpg",
      "uploads/batch-a.jpg",
      "uploads/gone one.jpg",
    ]);
    for (const event of removed) {
      // S3 reports no size or eTag for a removed object, only its key and a sequencer.
      expect(event.object).not.toHaveProperty("eTag");
      const created = events.find((e) => e.key === event.key && e.eventName.startsWith("ObjectCreated:"));
      const sequencer = String(event.object.sequencer);
      expect(sequencer).toMatch(/^[0-9A-F]+$/);
      expect(normalizeSequencer(sequencer) > normalizeSequencer(String(created?.object.sequencer))).toBe(true);
    }
  });

  it("sends nothing for a key that did not exist", async () => {
    await p.clients.s3.send(
      new DeleteObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: "uploads/never.jpg" }),
    );
    expect(await records()).toEqual([]);
  });
});
