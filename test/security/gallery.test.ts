import http from "node:http";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import { createGalleryServer, type Gallery } from "../../web/gallery.ts";
import type { ImageView, UploadTicket } from "../../web/images.ts";
import { createPipeline, jpeg, type Pipeline } from "../helpers.ts";

/**
 * A request with a Host header of our choosing and the path sent as written, `..` and all
 * (fetch does not let us set the one and normalizes the other).
 */
function requestWithHost(base: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname: url.hostname, port: url.port, path, headers: { host } }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the gallery on a hostile web", () => {
  let p: Pipeline;
  let gallery: Gallery;
  let base: string;
  const presign = (body: unknown) =>
    fetch(`${base}/api/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    p = await createPipeline({ worker: true });
    gallery = await createGalleryServer({ config: p.config, clients: p.clients, logger: silentLogger });
    base = await gallery.listen(0, "127.0.0.1");
  });
  afterAll(async () => {
    await gallery?.close();
    await p?.close();
  });

  it("answers another Host with 421 (DNS rebinding), and loopback names as usual", async () => {
    const port = new URL(base).port;
    const evil = await requestWithHost(base, "/api/info", "evil.example");
    expect(evil.status).toBe(421);
    expect(JSON.parse(evil.body).error.code).toBe("MISDIRECTED_REQUEST");
    expect((await requestWithHost(base, "/", `evil.example:${port}`)).status).toBe(421);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      expect((await requestWithHost(base, "/api/info", host)).status).toBe(200);
    }
  });

  it.each([
    "/js/../gallery.ts",
    "/js/%2e%2e/gallery.ts",
    "/js/..%2fgallery.ts",
    "/js/../../package.json",
    "/js/%2e%2e/%2e%2e/package.json",
    "/public/app.js",
    "/js/",
    "/js/nope.js",
    "/js/cards.js/",
  ])("serves no file outside its allowlist: %s is 404", async (path) => {
    const res = await requestWithHost(base, path, new URL(base).host);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).error.code).toBe("NOT_FOUND");
  });

  it.each([
    ["garbage", "not-base64-json"],
    [
      "a tampered shard key",
      Buffer.from(JSON.stringify({ 0: { imageId: "", listShard: "0", uploadDate: "x" } })).toString("base64url"),
    ],
    [
      "a key outside the dates asked for",
      Buffer.from(
        JSON.stringify(
          Object.fromEntries(
            Array.from({ length: 16 }, (_, i) => [
              String(i),
              { imageId: "a".repeat(32), listShard: String(i), uploadDate: "2030-01-01T00:00:00.000Z" },
            ]),
          ),
        ),
      ).toString("base64url"),
    ],
  ])("answers a bad cursor (%s) with 400 BAD_CURSOR", async (_what, cursor) => {
    const res = await fetch(`${base}/api/images?until=2021-12-31&cursor=${encodeURIComponent(cursor)}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("BAD_CURSOR");
  });

  it("pins the ticket to one exact key: never starts-with, never the filename placeholder", async () => {
    const placeholder = ["$", "{filename}"].join("");
    const res = await presign({ name: placeholder, type: "image/jpeg", size: 100 });
    expect(res.status).toBe(201);
    const ticket = (await res.json()) as UploadTicket;
    expect(ticket.key).not.toContain("${");
    expect(ticket.key.startsWith(p.config.uploadPrefix)).toBe(true);
    const policy = JSON.parse(Buffer.from(ticket.fields.Policy ?? "", "base64").toString("utf8"));
    const keyConditions = policy.conditions.filter((c: unknown) => JSON.stringify(c).includes("key"));
    expect(keyConditions).toEqual([{ key: ticket.key }]);
    expect(JSON.stringify(policy.conditions)).not.toContain("starts-with");
    // Two tickets for the same name never share a key: one upload cannot replace another.
    const again = (await (await presign({ name: "cat.jpg", type: "image/jpeg", size: 100 })).json()) as UploadTicket;
    const other = (await (await presign({ name: "cat.jpg", type: "image/jpeg", size: 100 })).json()) as UploadTicket;
    expect(again.key).not.toBe(other.key);
  });

  it.each([
    [".", "is not a file name"],
    ["..", "is not a file name"],
    [" . ", "is not a file name"],
    ["photo\u202egpj.exe", "must not contain control or bidirectional formatting characters"],
    ["a\u0007b.jpg", "must not contain control or bidirectional formatting characters"],
    ["a\u009bb.jpg", "must not contain control or bidirectional formatting characters"],
  ])("refuses the name %j", async (name, message) => {
    const res = await presign({ name, type: "image/jpeg", size: 10 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(message);
  });

  it("accepts HEIC and HEIF, not HTML", async () => {
    expect((await presign({ name: "a.heic", type: "image/heic", size: 10 })).status).toBe(201);
    expect((await presign({ name: "a.heif", type: "image/heif", size: 10 })).status).toBe(201);
    expect((await presign({ name: "a.html", type: "text/html", size: 10 })).status).toBe(400);
  });

  it("links an HTML original as a download, never as a page; a JPEG original as an image", async () => {
    const bucket = p.config.names.uploadsBucket;
    const html = `${p.config.uploadPrefix}page.html`;
    await p.clients.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: html, Body: "<script>alert(1)</script>", ContentType: "text/html" }),
    );
    const failed = await p.waitForItem(html);
    expect(failed.status).toBe("FAILED");
    const view = (await (await fetch(`${base}/api/images/${failed.imageId}`)).json()) as ImageView;
    const original = await fetch(view.originalUrl ?? "");
    expect(original.status).toBe(200);
    expect(original.headers.get("content-disposition")).toMatch(/^attachment; filename\*=UTF-8''page\.html$/);
    expect(original.headers.get("content-type")).toBe("application/octet-stream");

    const photo = await p.upload("photo.jpg", await jpeg(64, 48), "text/html");
    const processed = await p.waitForItem(photo);
    const photoView = (await (await fetch(`${base}/api/images/${processed.imageId}`)).json()) as ImageView;
    const inline = await fetch(photoView.originalUrl ?? "");
    // The decoded format's type, not the type the uploader claimed.
    expect(inline.headers.get("content-type")).toBe("image/jpeg");
    expect(inline.headers.get("content-disposition")).toMatch(/^inline/);
    const thumbnail = await fetch(photoView.thumbnails[0]?.url ?? "");
    expect(thumbnail.headers.get("content-type")).toBe("image/jpeg");
    if (inject("backend") === "embedded") {
      // S3 itself sends no nosniff; the embedded stack adds it to every object it serves.
      expect(thumbnail.headers.get("x-content-type-options")).toBe("nosniff");
      expect(inline.headers.get("x-content-type-options")).toBe("nosniff");
      // Opened without the gallery's link (a bare URL to the object), the HTML is still served as
      // text/html: sandboxed, its script cannot act as the stack's own origin (same-origin GETs
      // carry no Origin, so the CORS check would not stop them).
      const bare = await fetch(
        `${p.config.target.kind === "emulator" ? p.config.target.endpoint : ""}/${bucket}/${html}`,
      );
      expect(bare.headers.get("content-security-policy")).toBe("sandbox");
    }
  });
});
