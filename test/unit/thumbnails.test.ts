import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { PermanentError } from "../../src/errors.ts";
import { makeThumbnails, type ThumbnailOptions } from "../../src/pipeline/thumbnails.ts";
import { dimensionsOf, jpeg, png } from "../helpers.ts";

const options: ThumbnailOptions = { sizes: [128, 512], format: "jpeg", quality: 80, maxPixels: 100_000_000 };

async function failure(input: Buffer, opts = options): Promise<PermanentError> {
  try {
    await makeThumbnails(input, opts);
  } catch (error) {
    if (error instanceof PermanentError) return error;
    throw error;
  }
  throw new Error("expected a PermanentError");
}

describe("makeThumbnails", () => {
  it("fits every size inside its box and keeps the aspect ratio", async () => {
    const result = await makeThumbnails(await jpeg(1600, 1200), options);
    expect(result.info).toMatchObject({ format: "jpeg", width: 1600, height: 1200 });
    expect(result.thumbnails.map((t) => [t.size, t.width, t.height])).toEqual([
      [128, 128, 96],
      [512, 512, 384],
    ]);
    for (const thumb of result.thumbnails) {
      expect(await dimensionsOf(thumb.data)).toEqual({ width: thumb.width, height: thumb.height, format: "jpeg" });
      expect(thumb.bytes).toBe(thumb.data.length);
    }
  });

  it("applies EXIF orientation: a rotated phone photo is portrait", async () => {
    const result = await makeThumbnails(await jpeg(400, 300, { orientation: 6 }), options);
    expect(result.info).toMatchObject({ width: 300, height: 400 });
    expect(result.thumbnails[0]).toMatchObject({ width: 96, height: 128 });
    // Metadata is stripped: no orientation tag left to rotate it twice.
    expect((await sharp(result.thumbnails[0]?.data).metadata()).orientation).toBeUndefined();
  });

  it("never enlarges a small image", async () => {
    const result = await makeThumbnails(await png(1, 1), options);
    expect(result.thumbnails.map((t) => [t.width, t.height])).toEqual([
      [1, 1],
      [1, 1],
    ]);
  });

  it("gives a 20000×20 panorama a thumbnail at least one pixel high", async () => {
    const result = await makeThumbnails(await png(20_000, 20), options);
    expect(result.thumbnails[0]?.width).toBe(128);
    expect(result.thumbnails[0]?.height).toBeGreaterThanOrEqual(1);
  });

  it("gives a transparent image WebP thumbnails with its alpha, where JPEG would show a white square", async () => {
    const result = await makeThumbnails(await png(64, 64, true), options);
    expect(result.thumbnails.map((t) => [t.format, t.contentType])).toEqual([
      ["webp", "image/webp"],
      ["webp", "image/webp"],
    ]);
    const meta = await sharp(result.thumbnails[0]?.data).metadata();
    expect(meta).toMatchObject({ format: "webp", hasAlpha: true });
    const { data } = await sharp(result.thumbnails[0]?.data).raw().toBuffer({ resolveWithObject: true });
    expect(data[3]).toBe(0);
    // The placeholder colour counts transparent pixels as white, like the gallery's cards.
    expect(result.dominantColor).toMatch(/^#f[0-9a-f]f[0-9a-f]f[0-9a-f]$/);
  });

  it("keeps JPEG for an image whose alpha channel is entirely opaque, flattened onto white", async () => {
    const opaque = await sharp({ create: { width: 64, height: 64, channels: 4, background: "#0a78c8ff" } })
      .png()
      .toBuffer();
    const result = await makeThumbnails(opaque, options);
    expect(result.thumbnails.map((t) => t.format)).toEqual(["jpeg", "jpeg"]);
    const { data } = await sharp(result.thumbnails[0]?.data).raw().toBuffer({ resolveWithObject: true });
    expect(Math.abs((data[2] ?? 0) - 200)).toBeLessThan(6);
  });

  it("keeps transparency in WebP thumbnails", async () => {
    const result = await makeThumbnails(await png(64, 64, true), { ...options, format: "webp" });
    const meta = await sharp(result.thumbnails[0]?.data).metadata();
    expect(meta).toMatchObject({ format: "webp", hasAlpha: true });
  });

  it("detects the format from the bytes, not the name", async () => {
    const result = await makeThumbnails(await png(10, 10), options);
    expect(result.info.format).toBe("png");
  });

  it("refuses bytes that are no image", async () => {
    expect((await failure(Buffer.from("hello, I am a text file"))).code).toBe("NOT_AN_IMAGE");
  });

  it("refuses SVG as unsupported: rendering it could read local files", async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
    );
    expect((await failure(svg)).code).toBe("UNSUPPORTED_FORMAT");
  });

  it("refuses a truncated JPEG as corrupt", async () => {
    const whole = await jpeg(800, 600);
    expect((await failure(whole.subarray(0, whole.length / 2))).code).toBe("CORRUPT_IMAGE");
  });

  it("enforces the pixel limit from the header, before decoding", async () => {
    const error = await failure(await png(2000, 2000), { ...options, maxPixels: 1_000_000 });
    expect(error.code).toBe("TOO_MANY_PIXELS");
    expect(error.message).toContain("2000×2000");
  });

  it("says by how much an image is over the pixel limit when both round to the same megapixels", async () => {
    const error = await failure(await png(1001, 1000), { ...options, maxPixels: 1_000_000 });
    expect(error.code).toBe("TOO_MANY_PIXELS");
    expect(error.message).toBe("1001×1000 is 1.0 MP (1,001,000 pixels), over the limit of 1.0 MP (1,000,000 pixels)");
  });
});
