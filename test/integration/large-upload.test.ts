import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMessageBody } from "../../src/pipeline/events.ts";
import { createPipeline, drainQueue, type Pipeline } from "../helpers.ts";

// S3 takes up to 5 GB in one PutObject; fauxqs alone stops at 11 MiB, the edge bridges it.
describe("a single PutObject over 11 MiB", () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await createPipeline();
    await drainQueue(p.clients, p.queueUrl);
  });
  afterAll(() => p.close());

  async function roundTrip(key: string, body: Buffer | Readable, expected: Buffer) {
    await p.clients.s3.send(
      new PutObjectCommand({
        Bucket: p.config.names.uploadsBucket,
        Key: key,
        Body: body,
        ContentLength: expected.length,
        ContentType: "image/jpeg",
        Metadata: { origin: "test" },
      }),
    );
    const got = await p.clients.s3.send(new GetObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: key }));
    const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
    expect(bytes.equals(expected)).toBe(true);
    expect(got.ContentType).toBe("image/jpeg");
    expect(got.Metadata).toEqual({ origin: "test" });
  }

  it("stores a 16 MiB buffer byte for byte and announces it once, as a Put", async () => {
    const data = randomBytes(16 * 1024 * 1024);
    await roundTrip("uploads/big buffer.jpg", data, data);
    const events = (await drainQueue(p.clients, p.queueUrl, 2)).map((b) => parseMessageBody(b));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: "objects",
      objects: [{ key: "uploads/big buffer.jpg", eventName: "ObjectCreated:Put", size: data.length }],
    });
  });

  it("stores a 12 MiB stream sent with aws-chunked encoding byte for byte", async () => {
    const data = randomBytes(12 * 1024 * 1024 + 17);
    await roundTrip(
      "uploads/big-stream.jpg",
      Readable.from([data.subarray(0, 5_000_000), data.subarray(5_000_000)]),
      data,
    );
  });
});

describe("a browser upload (presigned POST) over 11 MiB", () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await createPipeline();
    await drainQueue(p.clients, p.queueUrl);
  });
  afterAll(() => p.close());

  it("stores the file byte for byte, answers as S3 does and announces one Post", async () => {
    const data = randomBytes(12 * 1024 * 1024 + 5);
    const post = await createPresignedPost(p.clients.s3Presign, {
      Bucket: p.config.names.uploadsBucket,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's own placeholder, filled in by the POST
      Key: "uploads/${filename}",
      Fields: { "Content-Type": "image/jpeg", success_action_status: "201" },
    });
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append("file", new Blob([data]), "big photo.jpg");
    const response = await fetch(post.url, { method: "POST", body: form });
    expect(response.status).toBe(201);
    expect(await response.text()).toContain("<Key>uploads/big photo.jpg</Key>");

    const got = await p.clients.s3.send(
      new GetObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: "uploads/big photo.jpg" }),
    );
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(data)).toBe(true);
    expect(got.ContentType).toBe("image/jpeg");
    const events = (await drainQueue(p.clients, p.queueUrl, 2)).map((b) => parseMessageBody(b));
    expect(events).toMatchObject([
      { kind: "objects", objects: [{ key: "uploads/big photo.jpg", eventName: "ObjectCreated:Post" }] },
    ]);
  });
});
