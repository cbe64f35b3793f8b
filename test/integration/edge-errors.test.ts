import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import http from "node:http";
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
} from "@aws-sdk/client-s3";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_OBJECT_BYTES } from "../../src/embedded/large-put.ts";
import { type EmbeddedStack, startEmbeddedStack } from "../../src/embedded/stack.ts";
import { silentLogger } from "../../src/logger.ts";
import { BUCKET, createBucketWithQueue, keysOnQueue, stackClients } from "../stack-process.ts";

/**
 * One raw request, its body written by `send`; resolves with the answer, rejects if none
 * comes within 15 s.
 */
function rawRequest(
  url: string | URL,
  options: http.RequestOptions,
  send: (req: http.ClientRequest) => void,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error("no answer within 15 s")));
    req.on("error", reject);
    send(req);
  });
}

/** With a body, sent whole; without, the edge must answer from the headers alone. */
function request(url: string, options: http.RequestOptions, body?: Buffer): Promise<{ status: number; text: string }> {
  return rawRequest(url, options, (req) => (body ? req.end(body) : req.flushHeaders()));
}

/** An embedded stack of the test's own, in memory, on a free port. */
function memoryStack(): Promise<EmbeddedStack> {
  return startEmbeddedStack({
    port: 0,
    host: "127.0.0.1",
    region: "us-east-1",
    dataDir: undefined,
    logger: silentLogger,
  });
}

// The edge's own error paths (its upload limit is the embedded stack's): its own stack, in memory.
describe("the edge answers every request", () => {
  let stack: EmbeddedStack;
  beforeAll(async () => {
    stack = await memoryStack();
    await createBucketWithQueue(stackClients(stack.endpoint));
  });
  afterAll(() => stack.stop());

  it("answers a browser upload over 10 MiB that has a key but no file with S3's InvalidArgument", async () => {
    const boundary = "----edge-test";
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\nuploads/no-file.jpg\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="padding"\r\n\r\n`),
      Buffer.alloc(11 * 1024 * 1024, "a"),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const answer = await request(
      `${stack.endpoint}/${BUCKET}`,
      { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${boundary}` } },
      body,
    );
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("<Code>InvalidArgument</Code>");
  });

  it("refuses a PutObject over the local limit with EntityTooLarge before reading its body", async () => {
    const answer = await request(`${stack.endpoint}/${BUCKET}/uploads/huge.jpg`, {
      method: "PUT",
      headers: { "content-length": String(MAX_OBJECT_BYTES + 1), "content-type": "image/jpeg" },
    });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("<Code>EntityTooLarge</Code>");
    expect(answer.text).toContain(`<MaxSizeAllowed>${MAX_OBJECT_BYTES}</MaxSizeAllowed>`);
  });

  it("answers GetObjectTagging with an empty TagSet, not the object's bytes (aws s3 mv of a large object reads it)", async () => {
    const { s3 } = stackClients(stack.endpoint);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "tags/x.bin", Body: Buffer.from("not xml") }));
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: "tags/x.bin" }));
    expect(tags.TagSet).toEqual([]);
    await expect(s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: "tags/none.bin" }))).rejects.toMatchObject({
      name: "NoSuchKey",
    });
    await expect(
      s3.send(new PutObjectTaggingCommand({ Bucket: BUCKET, Key: "tags/x.bin", Tagging: { TagSet: [] } })),
    ).rejects.toMatchObject({ name: "NotImplemented" });
    s3.destroy();
  });
});

/**
 * A folder marker (a zero-byte object whose key ends in "/") as each client sends it, SigV4-signed
 * for S3 like the AWS CLI's: `aws s3api put-object --key album/` without --body sends
 * `Content-Length: 0` and no Content-Type; other clients send chunked, aws-chunked (the newer
 * SDKs' STREAMING-… payloads) or wait for `100 Continue`.
 */
describe("the edge stores an object however the client frames it", () => {
  let stack: EmbeddedStack;
  let queueUrl: string;
  let clients: ReturnType<typeof stackClients>;
  beforeAll(async () => {
    stack = await memoryStack();
    clients = stackClients(stack.endpoint);
    queueUrl = await createBucketWithQueue(clients);
  });
  afterAll(() => stack.stop());

  const signer = new SignatureV4({
    service: "s3",
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  /** A PutObject signed with SigV4 and sent byte for byte as given (headers and body). */
  async function signedPut(key: string, headers: Record<string, string>, body: Buffer | undefined) {
    const url = new URL(`${stack.endpoint}/${BUCKET}/${key}`);
    const signed = await signer.sign({
      method: "PUT",
      protocol: "http:",
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: {},
      headers: { host: url.host, ...headers },
    });
    return putRaw(url, signed.headers, body);
  }
  const awsChunkedEmpty = Buffer.from("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");

  const variants: [string, Record<string, string>, Buffer | undefined][] = [
    ["Content-Length: 0, no Content-Type (the AWS CLI)", { "content-length": "0" }, Buffer.alloc(0)],
    ["no Content-Length, no body", {}, undefined],
    ["Transfer-Encoding: chunked", { "transfer-encoding": "chunked" }, Buffer.alloc(0)],
    [
      "aws-chunked (STREAMING-UNSIGNED-PAYLOAD-TRAILER)",
      {
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "0",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "content-length": String(awsChunkedEmpty.length),
      },
      awsChunkedEmpty,
    ],
    [
      "aws-chunked, chunked transfer",
      {
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "0",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "transfer-encoding": "chunked",
      },
      awsChunkedEmpty,
    ],
    ["Expect: 100-continue", { "content-length": "0", expect: "100-continue" }, Buffer.alloc(0)],
  ];

  it.each(variants)("%s: 200, an empty object, one ObjectCreated event", async (_name, extra, body) => {
    const key = `uploads/album-${variants.findIndex(([name]) => name === _name)}/`;
    const answer = await signedPut(key, { "x-amz-content-sha256": EMPTY_SHA256, ...extra }, body);
    expect(answer.text).toBe("");
    expect(answer.status).toBe(200);
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ContentLength).toBe(0);
    expect([...(await keysOnQueue(clients.sqs, queueUrl, new Set([key])))]).toEqual([key]);
  });

  it.each(["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8"])(
    "stores an object sent as %s byte for byte (fauxqs's server would parse it for SNS)",
    async (contentType) => {
      const key = `uploads/typed-${contentType.length}.bin`;
      const body = Buffer.from("a=1&b={not json");
      const answer = await signedPut(
        key,
        {
          "content-type": contentType,
          "content-length": String(body.length),
          "x-amz-content-sha256": createHash("sha256").update(body).digest("hex"),
        },
        body,
      );
      expect(answer.text).toBe("");
      expect(answer.status).toBe(200);
      const got = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(got.ContentType).toBe(contentType);
      expect(
        Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()),
      ).toEqual(body);
    },
  );
});

/** A PUT sent as given; with `expect: 100-continue` the (empty) body follows the 100 only. */
function putRaw(
  url: URL,
  headers: Record<string, string>,
  body: Buffer | undefined,
): Promise<{ status: number; text: string }> {
  return rawRequest(url, { method: "PUT", headers }, (req) => {
    if (headers.expect) req.on("continue", () => req.end(body));
    else req.end(body);
  });
}

/** SHA-256 (HMAC-SHA-256 with a secret) in the shape SignatureV4 takes, from node:crypto. */
class Sha256 {
  private hash: Hash | Hmac;
  private readonly secret: Uint8Array | string | undefined;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = typeof secret === "string" || secret === undefined ? secret : bytes(secret);
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", this.secret);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === "string" ? data : bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function bytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
