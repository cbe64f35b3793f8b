import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_OBJECT_BYTES } from "../../src/embedded/large-put.ts";
import { type EmbeddedStack, startEmbeddedStack } from "../../src/embedded/stack.ts";
import { silentLogger } from "../../src/logger.ts";
import { BUCKET, createBucketWithQueue, stackClients } from "../stack-process.ts";

/** One raw request; resolves with the answer, rejects if none comes within 15 s. */
function request(url: string, options: http.RequestOptions, body?: Buffer): Promise<{ status: number; text: string }> {
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
    if (body) req.end(body);
    // No body written: the edge must answer from the headers alone.
    else req.flushHeaders();
  });
}

// The edge's own error paths (its upload limit is the embedded stack's): its own stack, in memory.
describe("the edge answers every request", () => {
  let stack: EmbeddedStack;
  beforeAll(async () => {
    stack = await startEmbeddedStack({
      port: 0,
      host: "127.0.0.1",
      region: "us-east-1",
      dataDir: undefined,
      logger: silentLogger,
    });
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
});
