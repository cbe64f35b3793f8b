import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import type { ImageItem } from "../../src/store/metadata.ts";
import { listImages } from "../../src/store/query.ts";
import { createGalleryServer, type Gallery } from "../../web/gallery.ts";
import type { ImageView } from "../../web/images.ts";
import { type CliRun, createPipeline, type Pipeline, runImagesCli } from "../helpers.ts";

/**
 * Sorting and filtering by when a photo was taken (byTakenDate), on the real emulators with the
 * real worker: photos whose EXIF DateTimeOriginal (written by sharp/libvips, not by our code)
 * runs in another order than their uploads.
 */

/** A JPEG whose EXIF says when it was taken ("YYYY:MM:DD HH:MM:SS", EXIF 2.32 §4.6.5). */
function photo(dateTimeOriginal: string, offset?: string): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 48, channels: 3, background: "#c86432" } })
    .withExif({
      IFD2: { DateTimeOriginal: dateTimeOriginal, ...(offset && { OffsetTimeOriginal: offset }) },
    })
    .jpeg()
    .toBuffer();
}

let p: Pipeline;
let gallery: Gallery;
let base: string;

/** The CLI as a user runs it: a separate process, configured only by its environment. */
function images(args: string[]): Promise<CliRun> {
  return runImagesCli(p.config, args);
}

async function api(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const names = (body: Record<string, unknown>) => (body.items as ImageView[]).map((i) => i.name);

beforeAll(async () => {
  p = await createPipeline({ worker: true });
  gallery = await createGalleryServer({ config: p.config, clients: p.clients, logger: silentLogger, pollMs: 200 });
  base = await gallery.listen(0, "127.0.0.1");
  // Uploaded one at a time in this order; taken in the order christmas < … see the names.
  const uploads: [string, Buffer][] = [
    ["christmas-2023.jpg", await photo("2023:12:25 23:30:00", "-05:00")],
    ["summer-2021.jpg", await photo("2021:06:01 08:00:00")],
    [
      "no-exif.jpg",
      await sharp({ create: { width: 32, height: 32, channels: 3, background: "#fff" } })
        .jpeg()
        .toBuffer(),
    ],
    ["tokyo-2024.jpg", await photo("2024:03:10 12:00:00", "+09:00")],
  ];
  for (const [name, body] of uploads) await p.waitForItem(await p.upload(name, body, "image/jpeg"));
}, 60_000);

afterAll(async () => {
  await gallery?.close();
  await p?.close();
});

describe("sort and filter by taken date (byTakenDate)", () => {
  it("lists the latest taken first, leaving out the image without a taken date", async () => {
    const uploaded = await listImages(p.config, p.clients, { limit: 10 });
    expect(uploaded.items.map((i) => i.name)).toEqual([
      "tokyo-2024.jpg",
      "no-exif.jpg",
      "summer-2021.jpg",
      "christmas-2023.jpg",
    ]);
    const taken = await listImages(p.config, p.clients, { sort: "taken", limit: 10 });
    expect(taken.items.map((i) => [i.name, i.takenAt])).toEqual([
      ["tokyo-2024.jpg", "2024-03-10T12:00:00+09:00"],
      ["christmas-2023.jpg", "2023-12-25T23:30:00-05:00"],
      ["summer-2021.jpg", "2021-06-01T08:00:00"],
    ]);
  });

  it("pages through the taken order with a cursor, merging the shards", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listImages(p.config, p.clients, { sort: "taken", limit: 1, ...(cursor && { cursor }) });
      seen.push(...page.items.map((i) => i.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["tokyo-2024.jpg", "christmas-2023.jpg", "summer-2021.jpg"]);
  });

  it("filters by the camera's day: a bare until date covers the whole day, whatever the offset", async () => {
    const since = await listImages(p.config, p.clients, { sort: "taken", since: "2022-01-01", limit: 10 });
    expect(since.items.map((i) => i.name)).toEqual(["tokyo-2024.jpg", "christmas-2023.jpg"]);
    const until = await listImages(p.config, p.clients, { sort: "taken", until: "2023-12-25", limit: 10 });
    expect(until.items.map((i) => i.name)).toEqual(["christmas-2023.jpg", "summer-2021.jpg"]);
    const instant = await listImages(p.config, p.clients, {
      sort: "taken",
      since: "2023-12-25T23:30:00Z",
      until: "2024-03-10T11:59:59Z",
      limit: 10,
    });
    expect(instant.items.map((i) => i.name)).toEqual(["christmas-2023.jpg"]);
  });

  it("serves the same order and filter at GET /api/images?sort=taken", async () => {
    const all = await api("/api/images?sort=taken");
    expect(all.status).toBe(200);
    expect(names(all.body)).toEqual(["tokyo-2024.jpg", "christmas-2023.jpg", "summer-2021.jpg"]);
    const filtered = await api("/api/images?sort=taken&since=2021-01-01&until=2023-12-31");
    expect(names(filtered.body)).toEqual(["christmas-2023.jpg", "summer-2021.jpg"]);
    const uploaded = await api("/api/images?sort=uploaded");
    expect(names(uploaded.body)).toHaveLength(4);
  });

  it("answers 400 to a bad sort value, and to a cursor of the other order", async () => {
    const bad = await api("/api/images?sort=name");
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      error: { code: "BAD_REQUEST", message: 'sort must be one of uploaded, taken, not "name"' },
    });
    const page = await api("/api/images?limit=1");
    const foreign = await api(`/api/images?sort=taken&cursor=${page.body.nextCursor as string}`);
    expect(foreign.status).toBe(400);
    expect((foreign.body.error as { code: string }).code).toBe("BAD_CURSOR");
  });

  it("counts the images without a taken date for the gallery's note", async () => {
    const stats = await api("/api/stats");
    expect(stats.body.counts).toMatchObject({ total: 4, withoutTakenDate: 1 });
  });

  it("npm run images -- list --sort taken prints the taken order through byTakenDate", async () => {
    const table = await images(["list", "--sort", "taken", "--since", "2021-01-01"]);
    expect(table.stderr).toBe("");
    expect(table.code).toBe(0);
    const order = ["tokyo-2024.jpg", "christmas-2023.jpg", "summer-2021.jpg"].map((n) => table.stdout.indexOf(n));
    expect(order.every((at) => at > 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(table.stdout).not.toContain("no-exif.jpg");
    expect(table.stdout).toContain("2023-12-25 23:30:00-05:00");
    expect(table.stdout).toContain("Query on index byTakenDate");

    const json = await images(["list", "--sort", "taken", "--until", "2023-12-25", "--json"]);
    expect(json.code).toBe(0);
    const { items } = JSON.parse(json.stdout) as { items: ImageItem[] };
    expect(items.map((i) => i.name)).toEqual(["christmas-2023.jpg", "summer-2021.jpg"]);

    const bad = await images(["list", "--sort", "name"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("uploaded or taken");
  });
});
