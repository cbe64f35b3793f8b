import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeThumbnails } from "../../src/pipeline/thumbnails.ts";
import { skipUnlessSupported } from "../skip.ts";

/**
 * Colour management against an independent reference: ImageMagick with lcms converts each
 * generated fixture to sRGB through its embedded ICC profile (`convert in -profile sRGB.icc`),
 * and the thumbnail must match it within a mean of 3 per channel (0-255).
 * Needs Debian's imagemagick, icc-profiles-free (sRGB.icc) and colord (AdobeRGB1998.icc).
 */
const SRGB = "/usr/share/color/icc/sRGB.icc";
const ADOBE_RGB = "/usr/share/color/icc/colord/AdobeRGB1998.icc";
const MAX_MEAN_DIFFERENCE = 3;

function missingTools(): string | undefined {
  try {
    execFileSync("convert", ["-version"], { stdio: "ignore" });
  } catch {
    return "ImageMagick's convert is not installed (Debian package imagemagick)";
  }
  if (!existsSync(SRGB)) return `${SRGB} is missing (Debian package icc-profiles-free)`;
  if (!existsSync(ADOBE_RGB)) return `${ADOBE_RGB} is missing (Debian package colord)`;
  return undefined;
}

const missing = missingTools();
let dir = "";
let displayP3 = "";
let genericCmyk = "";

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), "colour-"));
  // Debian ships no Display P3 profile; libvips bundles Apple's, and embedding it is the
  // only thing libvips does here: ImageMagick/lcms make the fixtures and the reference.
  displayP3 = await saveLibvipsProfile("p3", "srgb");
  // The same for CMYK: libvips's built-in profile, which it assumes for CMYK with none.
  genericCmyk = await saveLibvipsProfile("cmyk", "cmyk");
  // Saturated patches, where a missed conversion shows most, and a grey that must stay grey.
  const patches = ["220,40,40", "40,200,60", "30,60,220", "240,220,40", "250,120,200", "128,128,128"].map(
    (rgb) => `xc:rgb(${rgb})`,
  );
  execFileSync("convert", ["-size", "64x64", ...patches, "+append", "-depth", "16", join(dir, "patches.png")]);
});

/** Writes one of libvips' bundled ICC profiles ("p3", "cmyk") to the fixtures' folder. */
async function saveLibvipsProfile(profile: "p3" | "cmyk", space: "srgb" | "cmyk"): Promise<string> {
  const tagged = await sharp({ create: { width: 1, height: 1, channels: 3, background: "#fff" } })
    .toColourspace(space)
    .withIccProfile(profile)
    .jpeg()
    .toBuffer();
  const icc = (await sharp(tagged).metadata()).icc;
  if (!icc) throw new Error(`libvips embedded no ${profile} profile`);
  const file = join(dir, `${profile}.icc`);
  writeFileSync(file, icc);
  return file;
}

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const profiles = [
  { label: "Adobe RGB (1998)", profile: "adobe" },
  { label: "Display P3", profile: "p3" },
] as const;
const containers = [
  { depth: 8, ext: "png" },
  { depth: 16, ext: "png" },
  { depth: 8, ext: "tif" },
  { depth: 16, ext: "tif" },
  { depth: 8, ext: "jpg" },
  { depth: 8, ext: "webp" },
] as const;
const cases = profiles.flatMap((p) => containers.map((c) => ({ ...p, ...c })));

describe("colour: thumbnails are sRGB, converted through the embedded ICC profile", () => {
  it.for(cases)("$label, $depth-bit $ext matches ImageMagick/lcms", async ({ profile, depth, ext }, ctx) => {
    skipUnlessSupported(ctx, missing);
    const fixture = join(dir, `${profile}-${depth}.${ext}`);
    const reference = join(dir, `${profile}-${depth}-${ext}-reference.png`);
    const iccPath = profile === "adobe" ? ADOBE_RGB : displayP3;
    const lossless = ext === "webp" ? ["-define", "webp:lossless=true"] : ext === "jpg" ? ["-quality", "98"] : [];
    execFileSync("convert", [
      join(dir, "patches.png"),
      ...["-profile", SRGB, "-profile", iccPath, "-depth", String(depth), ...lossless, fixture],
    ]);
    execFileSync("convert", [fixture, "-profile", SRGB, "-depth", "8", "-strip", reference]);
    const meta = await sharp(fixture).metadata();
    expect(meta.icc, "the fixture carries its profile").toBeDefined();
    expect(meta.depth).toBe(depth === 16 ? "ushort" : "uchar");

    const mean = await meanDifference(readFileSync(fixture), readFileSync(reference));
    console.info(`colour: ${profile}-${depth}.${ext}: mean difference ${mean.toFixed(2)} (0-255)`);
    expect(mean).toBeLessThanOrEqual(MAX_MEAN_DIFFERENCE);
  });

  it("an AVIF with an Adobe RGB profile matches ImageMagick/lcms", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    const source = join(dir, "adobe-avif-source.png");
    const reference = join(dir, "adobe-avif-reference.png");
    execFileSync("convert", [join(dir, "patches.png"), "-profile", SRGB, "-profile", ADOBE_RGB, "-depth", "8", source]);
    execFileSync("convert", [source, "-profile", SRGB, "-depth", "8", "-strip", reference]);
    // Debian's heif-enc cannot write AVIF; libvips keeps the profile without converting.
    const avif = await sharp(source).keepIccProfile().avif({ lossless: true }).toBuffer();
    expect((await sharp(avif).metadata()).icc).toBeDefined();

    const mean = await meanDifference(avif, readFileSync(reference));
    console.info(`colour: adobe-8.avif: mean difference ${mean.toFixed(2)} (0-255)`);
    expect(mean).toBeLessThanOrEqual(MAX_MEAN_DIFFERENCE);
  });
});

describe("colour: CMYK JPEGs (print files, scans) are converted through their ICC profile", () => {
  it.for([
    { label: "with an embedded CMYK profile", embedded: true },
    { label: "with no profile (libvips's built-in CMYK profile assumed)", embedded: false },
  ])("$label matches ImageMagick/lcms", async ({ embedded }, ctx) => {
    skipUnlessSupported(ctx, missing);
    const tagged = join(dir, "cmyk-tagged.jpg");
    const fixture = join(dir, `cmyk-${embedded}.jpg`);
    const reference = join(dir, `cmyk-${embedded}-reference.png`);
    execFileSync(
      "convert",
      [join(dir, "patches.png"), "-profile", SRGB, "-profile", genericCmyk, "-depth", "8"].concat([
        "-quality",
        "98",
        tagged,
      ]),
    );
    execFileSync("convert", [tagged, ...(embedded ? [] : ["+profile", "*"]), fixture]);
    // The reference converts through the same profile, assigned where the file has none.
    const assign = embedded ? [] : ["-profile", genericCmyk];
    execFileSync("convert", [fixture, ...assign, "-profile", SRGB, "-depth", "8", "-strip", reference]);
    const meta = await sharp(fixture).metadata();
    expect(meta.space).toBe("cmyk");
    expect(meta.icc !== undefined, "the fixture carries its profile or none").toBe(embedded);

    const mean = await meanDifference(readFileSync(fixture), readFileSync(reference));
    console.info(`colour: cmyk jpeg, ${embedded ? "embedded" : "no"} profile: mean difference ${mean.toFixed(2)}`);
    expect(mean).toBeLessThanOrEqual(MAX_MEAN_DIFFERENCE);
  });
});

/** Mean absolute difference per channel between the largest thumbnail and the reference. */
async function meanDifference(input: Buffer, reference: Buffer): Promise<number> {
  const result = await makeThumbnails(input, { sizes: [512], format: "jpeg", quality: 90, maxPixels: 1e8 });
  const thumb = result.thumbnails[0];
  if (!thumb) throw new Error("no thumbnail");
  // The fixture is smaller than the box, so the thumbnail is not resized.
  const actual = await sharp(thumb.data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const expected = await sharp(reference).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([actual.info.width, actual.info.height]).toEqual([expected.info.width, expected.info.height]);
  let sum = 0;
  for (let i = 0; i < actual.data.length; i++) sum += Math.abs((actual.data[i] ?? 0) - (expected.data[i] ?? 0));
  return sum / actual.data.length;
}
