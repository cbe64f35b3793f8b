import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PermanentError } from "../../src/errors.ts";
import { makeThumbnails, type ThumbnailOptions } from "../../src/pipeline/thumbnails.ts";
import { skipUnlessSupported } from "../skip.ts";

/**
 * HEIC as phones write it: HEVC inside, which sharp's prebuilt libvips cannot decode.
 * Fixtures are made with heif-enc (Debian libheif-examples), which uses x265.
 */
const options: ThumbnailOptions = { sizes: [128, 512], format: "jpeg", quality: 90, maxPixels: 100_000_000 };
const PATCHES = ["#dc2828", "#28c83c", "#1e3cdc", "#f0dc28", "#808080", "#fa78c8"];

function missingHeifEnc(): string | undefined {
  try {
    execFileSync("heif-enc", ["--help"], { stdio: "ignore" });
    return undefined;
  } catch (error) {
    // heif-enc --help exits 1 after printing its usage; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code === "ENOENT"
      ? "heif-enc is not installed (Debian package libheif-examples)"
      : undefined;
  }
}

const missing = missingHeifEnc();
let dir = "";
let srgbPatches: Buffer;
let heic: Buffer;

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), "heic-"));
  const tiles = await Promise.all(
    PATCHES.map((background) =>
      sharp({ create: { width: 64, height: 96, channels: 3, background } })
        .png()
        .toBuffer(),
    ),
  );
  srgbPatches = await sharp({ create: { width: 384, height: 96, channels: 3, background: "#000" } })
    .composite(tiles.map((input, i) => ({ input, left: i * 64, top: 0 })))
    .removeAlpha()
    .png()
    .toBuffer();
  // Display P3 values with the profile embedded, as an iPhone writes them.
  await sharp(srgbPatches).withIccProfile("p3").png().toFile(join(dir, "p3.png"));
  execFileSync("heif-enc", ["-q", "90", join(dir, "p3.png"), "-o", join(dir, "p3.heic")], { stdio: "ignore" });
  heic = readFileSync(join(dir, "p3.heic"));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("HEIC (HEVC inside)", () => {
  it("is decoded: thumbnails, size and format", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    expect((await sharp(heic).metadata()).compression).toBe("hevc");
    const result = await makeThumbnails(heic, options);
    expect(result.info).toMatchObject({ format: "heic", width: 384, height: 96, hasAlpha: false });
    expect(result.thumbnails.map((t) => [t.format, t.width, t.height])).toEqual([
      ["jpeg", 128, 32],
      ["jpeg", 384, 96],
    ]);
  });

  it("is converted to sRGB through its Display P3 profile", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    const result = await makeThumbnails(heic, options);
    const actual = await sharp(result.thumbnails[1]?.data).raw().toBuffer();
    const expected = await sharp(srgbPatches).raw().toBuffer();
    let sum = 0;
    for (let i = 0; i < actual.length; i++) sum += Math.abs((actual[i] ?? 0) - (expected[i] ?? 0));
    const mean = sum / actual.length;
    console.info(`colour: p3.heic (HEVC q90): mean difference ${mean.toFixed(2)} (0-255)`);
    expect(mean).toBeLessThanOrEqual(3);
  });

  it("checks the pixel limit from the header, before decoding", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    const error = await makeThumbnails(heic, { ...options, maxPixels: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: "TOO_MANY_PIXELS" });
  });

  it("says a truncated HEIC was cut off, in one line", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    const error = await makeThumbnails(heic.subarray(0, Math.floor(heic.length * 0.8)), options).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "CORRUPT_IMAGE" });
    expect((error as Error).message).toMatch(/^The HEIC/);
    expect((error as Error).message).not.toContain("\n");
  });
});
