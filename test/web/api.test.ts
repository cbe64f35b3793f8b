import { readdirSync } from "node:fs";
import { get as httpGet } from "node:http";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import { type ImageItem, ImageStatus, imageIdFor, listShardFor, putImageItem } from "../../src/store/metadata.ts";
import { createGalleryServer, type Gallery } from "../../web/gallery.ts";
import type { ImageView, UploadTicket } from "../../web/images.ts";
import { createPipeline, dimensionsOf, jpeg, type Pipeline } from "../helpers.ts";

/** An item written straight to the table, with an upload date we choose. */
function item(p: Pipeline, name: string, uploadDate: string, status: ImageStatus = ImageStatus.Processed): ImageItem {
  const key = `${p.config.uploadPrefix}${name}`;
  const imageId = imageIdFor(p.config.names.uploadsBucket, key);
  return {
    imageId,
    bucket: p.config.names.uploadsBucket,
    key,
    name,
    status,
    format: "jpeg",
    width: 800,
    height: 600,
    bytes: 1234,
    sequencer: "0".repeat(32),
    uploadDate,
    listShard: listShardFor(imageId),
    processedAt: uploadDate,
    processingMs: 12,
    ...(status === ImageStatus.Failed
      ? { errorCode: "NOT_AN_IMAGE", errorMessage: "Not an image" }
      : {
          dominantColor: "#336699",
          thumbnails: [{ size: 128, key: `${imageId}/128.jpg`, width: 128, height: 96, bytes: 900, format: "jpeg" }],
        }),
  };
}

describe("gallery API", () => {
  let p: Pipeline;
  let gallery: Gallery;
  let base: string;
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
  const presign = (body: unknown) =>
    fetch(`${base}/api/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  // Seven images a day apart in January 2021, the last one failed.
  const days = [1, 2, 3, 4, 5, 6, 7].map((d) => `2021-01-0${d}T12:00:00.000Z`);

  beforeAll(async () => {
    p = await createPipeline({ worker: true });
    gallery = await createGalleryServer({ config: p.config, clients: p.clients, logger: silentLogger, pollMs: 200 });
    base = await gallery.listen(0, "127.0.0.1");
    for (const [i, date] of days.entries()) {
      await putImageItem(
        p.clients,
        p.config.names,
        item(p, `day-${i + 1}.jpg`, date, i === 6 ? ImageStatus.Failed : ImageStatus.Processed),
      );
    }
  });
  afterAll(async () => {
    await gallery?.close();
    await p?.close();
  });

  it("lists newest first and pages through every image exactly once", async () => {
    const names: string[] = [];
    let cursor: string | undefined;
    const pageSizes: number[] = [];
    do {
      const { status, body } = await get(`/api/images?limit=3&until=2021-12-31${cursor ? `&cursor=${cursor}` : ""}`);
      expect(status).toBe(200);
      const items = body.items as ImageView[];
      pageSizes.push(items.length);
      names.push(...items.map((i) => i.name));
      cursor = body.nextCursor as string | undefined;
    } while (cursor);
    expect(pageSizes).toEqual([3, 3, 1]);
    expect(names).toEqual(["day-7.jpg", "day-6.jpg", "day-5.jpg", "day-4.jpg", "day-3.jpg", "day-2.jpg", "day-1.jpg"]);
  });

  it("filters by upload date range and by status", async () => {
    const range = await get("/api/images?since=2021-01-03&until=2021-01-05");
    expect((range.body.items as ImageView[]).map((i) => i.name)).toEqual(["day-5.jpg", "day-4.jpg", "day-3.jpg"]);

    const instants = await get("/api/images?since=2021-01-06T00:00:00Z&until=2021-01-06T23:00:00Z");
    expect((instants.body.items as ImageView[]).map((i) => i.name)).toEqual(["day-6.jpg"]);

    const failed = await get("/api/images?status=FAILED&until=2021-12-31");
    expect(failed.body.items).toMatchObject([
      { name: "day-7.jpg", status: "FAILED", errorCode: "NOT_AN_IMAGE", errorMessage: "Not an image", thumbnails: [] },
    ]);
  });

  it("gives thumbnails as presigned URLs, the dominant colour, and no bucket internals", async () => {
    const { body } = await get("/api/images?since=2021-01-01&until=2021-01-01");
    const [view] = body.items as (ImageView & Record<string, unknown>)[];
    expect(view).toMatchObject({ name: "day-1.jpg", width: 800, height: 600, dominantColor: "#336699" });
    expect(view?.thumbnails[0]?.url).toMatch(/X-Amz-Signature=/);
    expect(view?.thumbnails[0]?.url).toContain(p.config.names.thumbnailsBucket);
    expect(view).not.toHaveProperty("sequencer");
    expect(view).not.toHaveProperty("bucket");
    expect(view).not.toHaveProperty("originalUrl");
  });

  it("returns one image by id or by file name, with a link to its original, and 404 for an unknown one", async () => {
    const id = imageIdFor(p.config.names.uploadsBucket, `${p.config.uploadPrefix}day-2.jpg`);
    const byId = await get(`/api/images/${id}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({ imageId: id, name: "day-2.jpg" });
    expect(byId.body.originalUrl).toMatch(new RegExp(`${p.config.names.uploadsBucket}/uploads/day-2.jpg\\?`));

    const byName = await get("/api/images/day-2.jpg");
    expect(byName.body).toMatchObject({ imageId: id });

    const missing = await get("/api/images/nothing-here.jpg");
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: "NOT_FOUND", message: 'No image "nothing-here.jpg"' } });
  });

  it("answers an upload not yet processed as PENDING (200, no 404 for the browser to log), then with the image", async () => {
    const id = imageIdFor(p.config.names.uploadsBucket, `${p.config.uploadPrefix}day-3.jpg`);
    expect(await get(`/api/uploads/${id}`)).toMatchObject({ status: 200, body: { imageId: id, name: "day-3.jpg" } });

    const waiting = "ab".repeat(16);
    expect(await get(`/api/uploads/${waiting}`)).toMatchObject({
      status: 200,
      body: { imageId: waiting, status: "PENDING" },
    });
    expect((await get("/api/uploads/day-3.jpg")).status).toBe(400);
  });

  it("presigns a POST that uploads straight to S3, and the worker turns it into thumbnails", async () => {
    const file = await jpeg(640, 480);
    const res = await presign({ name: "from the browser.jpg", type: "image/jpeg", size: file.length });
    expect(res.status).toBe(201);
    const ticket = (await res.json()) as UploadTicket;
    expect(ticket.name).toBe("from the browser.jpg");
    expect(ticket.key).toMatch(/^uploads\/[\w-]{14}\/from the browser\.jpg$/);
    const policy = JSON.parse(Buffer.from(ticket.fields.Policy ?? "", "base64").toString("utf8"));
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ["content-length-range", file.length, file.length],
        { "Content-Type": "image/jpeg" },
        { key: ticket.key },
      ]),
    );

    // Exactly what the page does: the form fields, then the file, to S3 itself.
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
    form.append("file", new Blob([new Uint8Array(file)], { type: "image/jpeg" }), "from the browser.jpg");
    const upload = await fetch(ticket.url, { method: "POST", body: form });
    expect(upload.status).toBe(204);

    const processed = await p.waitForItem(ticket.key);
    expect(processed).toMatchObject({ imageId: ticket.imageId, status: "PROCESSED", contentType: "image/jpeg" });
    const { body } = await get(`/api/images/${ticket.imageId}`);
    const view = body as unknown as ImageView;
    expect(view.thumbnails.map((t) => [t.width, t.height])).toEqual([
      [128, 96],
      [512, 384],
    ]);
    const thumbnail = await fetch(view.thumbnails[1]?.url ?? "");
    expect(thumbnail.status).toBe(200);
    expect(await dimensionsOf(Buffer.from(await thumbnail.arrayBuffer()))).toMatchObject({ width: 512, height: 384 });
  });

  it("counts images by status and reports the depth of both queues", async () => {
    const { status, body } = await get("/api/stats");
    expect(status).toBe(200);
    const counts = body.counts as Record<string, number>;
    expect(counts.FAILED).toBeGreaterThanOrEqual(1);
    expect(counts.PROCESSED).toBeGreaterThanOrEqual(6);
    expect(counts.total).toBe((counts.FAILED ?? 0) + (counts.PROCESSED ?? 0));
    expect(body.queue).toEqual({ waiting: expect.any(Number), inFlight: expect.any(Number) });
    expect(body.deadLetters).toEqual({ waiting: 0, inFlight: 0 });
  });

  it("pushes an image on the event stream when it is processed", async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/api/events`, { signal: controller.signal });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const seen = (async () => {
      while (!text.includes('"name":"streamed.jpg"')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    })();
    // Let the feed take its baseline first: images already there are not news.
    await new Promise((r) => setTimeout(r, 600));
    await p.upload("streamed.jpg", await jpeg(200, 100), "image/jpeg");
    await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error(text)), 15_000))]);
    controller.abort();
    const event = text.split("\n\n").find((block) => block.includes('"name":"streamed.jpg"')) ?? "";
    expect(event).toMatch(/^event: image\ndata: /);
    expect(JSON.parse(event.slice(event.indexOf("data: ") + 6))).toMatchObject({
      name: "streamed.jpg",
      status: "PROCESSED",
      width: 200,
      height: 100,
    });
    expect(text).toMatch(/event: stats\ndata: \{"counts"/);
  });

  it("pushes a removal on the event stream when an image is deleted from S3", async () => {
    const key = await p.upload("to-delete.jpg", await jpeg(120, 80), "image/jpeg");
    const { imageId } = await p.waitForItem(key, (i) => i.status === ImageStatus.Processed, 20_000);
    const controller = new AbortController();
    const res = await fetch(`${base}/api/events`, { signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const removal = `event: removed\ndata: ${JSON.stringify({ imageId })}`;
    const seen = (async () => {
      while (!text.includes(removal)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    })();
    // The feed's baseline includes the image; its delete makes a tombstone, which leaves the index.
    await new Promise((r) => setTimeout(r, 600));
    await p.clients.s3.send(new DeleteObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: key }));
    await p.waitForItem(key, (i) => i.status === ImageStatus.Deleted, 20_000);
    await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error(text)), 15_000))]);
    controller.abort();
    expect(text).toContain(removal);
    // Images still listed are no removal: day-1.jpg (in the table all along) was not announced.
    expect(text.match(/event: removed/g)).toHaveLength(1);
  });

  it.each([
    ["/api/images?limit=0", "limit must be a whole number from 1 to 100"],
    ["/api/images?limit=101", "limit must be a whole number from 1 to 100"],
    ["/api/images?limit=ten", 'limit must be a whole number from 1 to 100, not "ten"'],
    ["/api/images?since=yesterday", 'since must be YYYY-MM-DD or an ISO date-time, not "yesterday"'],
    ["/api/images?until=2021-02-30", "until is not a valid date: 2021-02-30"],
    ["/api/images?since=2021-02-01&until=2021-01-01", "since must not be after until"],
    ["/api/images?status=DONE", 'status must be one of PROCESSED, FAILED, not "DONE"'],
    ["/api/images/%E0%A4%A", "the image id is not valid URL encoding"],
  ])("answers %s with 400 and a message", async (path, message) => {
    const { status, body } = await get(path);
    expect(status).toBe(400);
    expect(body).toEqual({ error: { code: "BAD_REQUEST", message } });
  });

  it("answers a cursor it did not hand out with 400 BAD_CURSOR", async () => {
    const { status, body } = await get("/api/images?cursor=not-a-cursor");
    expect(status).toBe(400);
    expect(body).toEqual({
      error: {
        code: "BAD_CURSOR",
        message: "cursor is not valid: use the nextCursor of the previous page, with the same filters",
      },
    });
  });

  it.each([
    [{ type: "image/jpeg", size: 10 }, "name is required"],
    [
      { name: "a.txt", type: "text/plain", size: 10 },
      'type must be one of image/jpeg, image/png, image/webp, image/avif, image/gif, image/tiff, image/heic, image/heif, not "text/plain"',
    ],
    [{ name: "a.svg", type: "image/svg+xml", size: 10 }, "SVG images are not accepted"],
    [{ name: "a.jpg", type: "image/jpeg", size: 0 }, "size must be the file's size in bytes (at least 1)"],
    [
      { name: "a.jpg", type: "image/jpeg", size: 60 * 1024 ** 2 },
      "the file is 62914560 bytes; the limit is 52428800 bytes",
    ],
    [{ name: `${"x".repeat(201)}.jpg`, type: "image/jpeg", size: 10 }, "name must be at most 200 characters"],
  ])("refuses to presign %j", async (request, message) => {
    const res = await presign(request);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "BAD_REQUEST", message } });
  });

  it("refuses an upload request that is not JSON", async () => {
    const res = await fetch(`${base}/api/uploads`, { method: "POST", body: "name=a.jpg" });
    expect(res.status).toBe(415);
  });

  it("serves the page with a Content-Security-Policy that allows only itself and S3", async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    const origin = new URL(p.config.target.kind === "emulator" ? p.config.target.endpoint : "").origin;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain(`connect-src 'self' ${origin}`);
    expect(csp).toMatch(new RegExp(`img-src 'self' [^;]*${origin}`));
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await res.text()).toContain('<script type="module" src="/app.js"></script>');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/api/stats`, { method: "DELETE" })).status).toBe(405);
  });

  it("serves every module the page imports as JavaScript, under the page's CSP", async () => {
    const page = await fetch(`${base}/`);
    const csp = page.headers.get("content-security-policy");
    // What a browser fetches: the page's module script, then every module it imports, transitively.
    const queue = [...(await page.text()).matchAll(/<script type="module" src="([^"]+)">/g)].map(
      ([, src]) => new URL(src ?? "", base),
    );
    const served = new Set<string>();
    for (let url = queue.pop(); url; url = queue.pop()) {
      if (served.has(url.pathname)) continue;
      served.add(url.pathname);
      const res = await fetch(url);
      expect(res.status, url.pathname).toBe(200);
      // A module served as anything else is refused by the browser (and nosniff forbids guessing).
      expect(res.headers.get("content-type"), url.pathname).toBe("text/javascript; charset=utf-8");
      expect(res.headers.get("x-content-type-options"), url.pathname).toBe("nosniff");
      expect(res.headers.get("content-security-policy"), url.pathname).toBe(csp);
      for (const [, specifier] of (await res.text()).matchAll(
        /^(?:import|export)\s(?:[^;"']*\sfrom\s)?"([^"]+)";$/gm,
      )) {
        queue.push(new URL(specifier ?? "", url));
      }
    }
    const modules = readdirSync(new URL("../../web/public/js/", import.meta.url)).map((name) => `/js/${name}`);
    expect([...served].sort()).toEqual(["/app.js", ...modules].sort());
  });

  it("answers 404 to a module path with dot segments or odd encodings, even one that resolves to a module", async () => {
    const { hostname, port } = new URL(base);
    // fetch() would resolve the dot segments itself: send the request line as written.
    const status = (rawPath: string) =>
      new Promise<number | undefined>((resolve, reject) => {
        httpGet({ host: hostname, port, path: rawPath }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on("error", reject);
      });
    for (const rawPath of [
      "/js/../js/cards.js",
      "/js/%2e%2e/app.js",
      "/js/./cards.js",
      "/js/%2E%2E/js/cards.js",
      "/js%2fcards.js",
      "/%6as/cards.js",
      "/js/cards.js%00",
      "/js//cards.js",
      "/js/../../package.json",
    ]) {
      expect(await status(rawPath), rawPath).toBe(404);
    }
    expect(await status("/js/cards.js?v=1")).toBe(200);
  });
});
