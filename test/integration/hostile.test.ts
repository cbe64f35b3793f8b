import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awkwardNames, fixtures } from "../fixtures.ts";
import { createPipeline, dimensionsOf, type Pipeline } from "../helpers.ts";

// Limits lowered so the over-the-limit fixture stays small: 2 MiB and 100 MP.
describe("hostile uploads", () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await createPipeline({ worker: true, env: { MAX_IMAGE_BYTES: String(2 * 1024 * 1024) } });
  });
  afterAll(() => p.close());

  it.each(fixtures)("$name → $expect.status", async (fixture) => {
    const key = await p.upload(fixture.key, await fixture.make(), fixture.contentType);
    const item = await p.waitForItem(key);
    expect(item.key).toBe(key);
    if (fixture.expect.status === "FAILED") {
      expect(item).toMatchObject({ status: "FAILED", errorCode: fixture.expect.errorCode });
      expect(item.errorMessage?.length).toBeGreaterThan(10);
      expect(item.thumbnails).toBeUndefined();
      return;
    }
    const { format, width, height, thumb128 } = fixture.expect;
    expect(item).toMatchObject({ status: "PROCESSED", format, width, height });
    const small = item.thumbnails?.find((t) => t.size === 128);
    expect([small?.width, small?.height]).toEqual(thumb128);
    const data = await p.getObject(p.config.names.thumbnailsBucket, small?.key ?? "");
    expect(await dimensionsOf(data)).toMatchObject({ width: thumb128[0], height: thumb128[1] });
  });

  it("keeps transparency in WebP thumbnails, recorded per thumbnail, never a white or black square", async () => {
    const transparent = fixtures.find((f) => f.key === "transparent.png");
    const key = await p.upload("alpha-check.png", (await transparent?.make()) ?? Buffer.alloc(0), "image/png");
    const item = await p.waitForItem(key);
    const thumb = item.thumbnails?.[0];
    expect(thumb).toMatchObject({ format: "webp", contentType: "image/webp" });
    expect(thumb?.key).toMatch(/\.webp$/);
    const sharp = (await import("sharp")).default;
    const data = await p.getObject(p.config.names.thumbnailsBucket, thumb?.key ?? "");
    const { data: pixels, info } = await sharp(data).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(4);
    expect(pixels[3]).toBe(0);
  });

  it.each(awkwardNames)("round-trips the key %j byte for byte into the metadata", async (name) => {
    const png = fixtures.find((f) => f.key === "pixel.png");
    const key = await p.upload(name, (await png?.make()) ?? Buffer.alloc(0), "image/png");
    const item = await p.waitForItem(key);
    expect(Buffer.from(item.key)).toEqual(Buffer.from(`uploads/${name}`));
    expect(item.name).toBe(name);
  });
});
