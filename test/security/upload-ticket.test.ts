import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { objectExists } from "../../src/aws/lookups.ts";
import { silentLogger } from "../../src/logger.ts";
import { createGalleryServer, type Gallery } from "../../web/gallery.ts";
import type { UploadTicket } from "../../web/images.ts";
import { createPipeline, drainQueue, jpeg, type Pipeline } from "../helpers.ts";

// LocalStack checks POST policies but, by default, no signatures (S3_SKIP_SIGNATURE_VALIDATION=1).
const checksSignatures = inject("backend") !== "localstack";
const MAX_BYTES = 4096;

describe("an upload ticket gives exactly the rights it describes", () => {
  let p: Pipeline;
  let gallery: Gallery;
  let base: string;
  let photo: Buffer;

  beforeAll(async () => {
    p = await createPipeline({ env: { MAX_IMAGE_BYTES: String(MAX_BYTES) } });
    gallery = await createGalleryServer({ config: p.config, clients: p.clients, logger: silentLogger });
    base = await gallery.listen(0, "127.0.0.1");
    photo = await jpeg(40, 30);
    expect(photo.length).toBeLessThan(MAX_BYTES);
  });
  afterAll(async () => {
    await gallery?.close();
    await p?.close();
  });

  async function ticketFor(name: string, size = photo.length): Promise<UploadTicket> {
    const res = await fetch(`${base}/api/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name, type: "image/jpeg", size }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as UploadTicket;
  }

  /** What the page does: the ticket's fields (changed as given), then the file, to S3 itself. */
  async function post(
    ticket: { url: string; fields: Record<string, string> },
    body: Buffer,
    change: Record<string, string | undefined> = {},
  ): Promise<{ status: number; code: string }> {
    const form = new FormData();
    for (const [name, value] of Object.entries({ ...ticket.fields, ...change })) {
      if (value !== undefined) form.append(name, value);
    }
    form.append("file", new Blob([new Uint8Array(body)], { type: "image/jpeg" }), "photo.jpg");
    const res = await fetch(ticket.url, { method: "POST", body: form });
    const text = await res.text();
    return { status: res.status, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? "" };
  }

  const stored = (key: string) => objectExists(p.clients.s3, p.config.names.uploadsBucket, key);

  it("stores the file it was issued for, at its key", async () => {
    const ticket = await ticketFor("fine.jpg");
    expect(await post(ticket, photo)).toEqual({ status: 204, code: "" });
    expect(await stored(ticket.key)).toBe(true);
  });

  it("refuses a body over the size, and one under it, storing nothing", async () => {
    const big = await ticketFor("big.jpg");
    expect(await post(big, Buffer.alloc(MAX_BYTES + 1, 1))).toEqual({ status: 400, code: "EntityTooLarge" });
    expect(await stored(big.key)).toBe(false);
    // Past fauxqs's 11 MiB body limit, where the edge streams the upload as a multipart upload.
    const huge = await ticketFor("huge.jpg");
    expect(await post(huge, Buffer.alloc(12 * 1024 * 1024, 1))).toEqual({ status: 400, code: "EntityTooLarge" });
    expect(await stored(huge.key)).toBe(false);
    const empty = await ticketFor("empty.jpg");
    expect(await post(empty, Buffer.alloc(0))).toEqual({ status: 400, code: "EntityTooSmall" });
    expect(await stored(empty.key)).toBe(false);
  });

  it("holds the size the ticket was asked for: one byte more or less is refused", async () => {
    const ticket = await ticketFor("exact.jpg", photo.length);
    const longer = Buffer.concat([photo, Buffer.from([0])]);
    expect(await post(ticket, longer)).toEqual({ status: 400, code: "EntityTooLarge" });
    expect(await post(ticket, photo.subarray(1))).toEqual({ status: 400, code: "EntityTooSmall" });
    expect(await stored(ticket.key)).toBe(false);
    expect(await post(ticket, photo)).toEqual({ status: 204, code: "" });
  });

  it("refuses another Content-Type, another key, or a field the policy does not name", async () => {
    await drainQueue(p.clients, p.queueUrl, 0); // the events of the uploads above
    const ticket = await ticketFor("typed.jpg");
    expect(await post(ticket, photo, { "Content-Type": "text/html" })).toEqual({ status: 403, code: "AccessDenied" });
    const otherKey = `${p.config.uploadPrefix}someone-else.jpg`;
    expect(await post(ticket, photo, { key: otherKey })).toEqual({ status: 403, code: "AccessDenied" });
    expect(await post(ticket, photo, { "x-amz-meta-owner": "me" })).toEqual({ status: 403, code: "AccessDenied" });
    expect(await stored(ticket.key)).toBe(false);
    expect(await stored(otherKey)).toBe(false);
    // Nothing stored, so nothing announced either.
    expect(await drainQueue(p.clients, p.queueUrl, 0)).toEqual([]);
  });

  it("refuses an expired policy", async () => {
    const expired = await createPresignedPost(p.clients.s3Presign, {
      Bucket: p.config.names.uploadsBucket,
      Key: `${p.config.uploadPrefix}late.jpg`,
      Conditions: [["content-length-range", 1, MAX_BYTES]],
      Expires: -60,
    });
    expect(await post(expired, photo)).toEqual({ status: 403, code: "AccessDenied" });
    expect(await stored(`${p.config.uploadPrefix}late.jpg`)).toBe(false);
  });

  it.skipIf(!checksSignatures)("refuses a missing or wrong signature, a forged policy and another secret", async () => {
    const ticket = await ticketFor("signed.jpg");
    expect(await post(ticket, photo, { "X-Amz-Signature": undefined })).toMatchObject({ status: 400 });
    expect(await post(ticket, photo, { "X-Amz-Signature": "0".repeat(64) })).toEqual({
      status: 403,
      code: "SignatureDoesNotMatch",
    });
    // The same policy with a larger size: the signature no longer covers it.
    const policy = JSON.parse(Buffer.from(ticket.fields.Policy ?? "", "base64").toString("utf8"));
    policy.conditions = policy.conditions.map((c: unknown) =>
      Array.isArray(c) && c[0] === "content-length-range" ? ["content-length-range", 1, 10 ** 9] : c,
    );
    const forged = Buffer.from(JSON.stringify(policy)).toString("base64");
    expect(await post(ticket, Buffer.alloc(MAX_BYTES * 2, 1), { Policy: forged })).toEqual({
      status: 403,
      code: "SignatureDoesNotMatch",
    });
    expect(await post(ticket, photo, { Policy: undefined })).toEqual({ status: 403, code: "AccessDenied" });
    expect(await stored(ticket.key)).toBe(false);

    const stranger = new S3Client({
      region: p.config.region,
      endpoint: ticket.url.replace(/\/[^/]*$/, ""),
      forcePathStyle: true,
      credentials: { accessKeyId: "test", secretAccessKey: "not-the-stack-secret" },
    });
    const foreign = await createPresignedPost(stranger, {
      Bucket: p.config.names.uploadsBucket,
      Key: `${p.config.uploadPrefix}stranger.jpg`,
      Conditions: [["content-length-range", 1, MAX_BYTES]],
    });
    stranger.destroy();
    expect(await post(foreign, photo)).toEqual({ status: 403, code: "SignatureDoesNotMatch" });
    expect(await stored(`${p.config.uploadPrefix}stranger.jpg`)).toBe(false);
  });

  it("refuses presigned GET and PUT URLs past their X-Amz-Expires", async () => {
    const key = `${p.config.uploadPrefix}presigned.jpg`;
    await p.clients.s3.send(new PutObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: key, Body: photo }));
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    const get = await getSignedUrl(
      p.clients.s3Presign,
      new GetObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: key }),
      { expiresIn: 60, signingDate: twoHoursAgo },
    );
    const expired = await fetch(get);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
    const fresh = await getSignedUrl(
      p.clients.s3Presign,
      new GetObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: key }),
      { expiresIn: 60 },
    );
    expect((await fetch(fresh)).status).toBe(200);

    const putKey = `${p.config.uploadPrefix}late-put.jpg`;
    const put = await getSignedUrl(
      p.clients.s3Presign,
      new PutObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: putKey }),
      { expiresIn: 60, signingDate: twoHoursAgo },
    );
    expect((await fetch(put, { method: "PUT", body: new Uint8Array(photo) })).status).toBe(403);
    expect(await stored(putKey)).toBe(false);
  });
});
