import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeThumbnails, type ThumbnailOptions } from "../../src/pipeline/thumbnails.ts";
import { skipUnlessSupported } from "../skip.ts";

/** Capture metadata written by exiftool (Debian libimage-exiftool-perl), an independent writer. */
const options: ThumbnailOptions = { sizes: [128], format: "jpeg", quality: 80, maxPixels: 100_000_000 };

function missingExiftool(): string | undefined {
  try {
    execFileSync("exiftool", ["-ver"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "exiftool is not installed (Debian package libimage-exiftool-perl)";
  }
}

const missing = missingExiftool();
let dir = "";
let photo: Buffer;

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), "capture-"));
  const file = join(dir, "photo.jpg");
  writeFileSync(
    file,
    await sharp({ create: { width: 64, height: 48, channels: 3, background: "#c86432" } })
      .jpeg()
      .toBuffer(),
  );
  execFileSync("exiftool", [
    "-q",
    "-overwrite_original",
    "-DateTimeOriginal=2024:05:01 14:03:22",
    "-OffsetTimeOriginal=+02:00",
    "-Make=Canon",
    "-Model=Canon EOS R5",
    "-LensModel=RF24-70mm F2.8 L IS USM",
    "-ExposureTime=1/250",
    "-FNumber=2.8",
    "-ISO=400",
    "-FocalLength=50",
    "-GPSLatitude=48.8583",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=2.2945",
    "-GPSLongitudeRef=E",
    file,
  ]);
  photo = readFileSync(file);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("capture metadata", () => {
  it("records when and with what the photo was taken, and that it has GPS, but not where", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    const { capture } = await makeThumbnails(photo, options);
    expect(capture).toEqual({
      takenAt: "2024-05-01T14:03:22+02:00",
      make: "Canon",
      model: "Canon EOS R5",
      lens: "RF24-70mm F2.8 L IS USM",
      exposureTime: 0.004,
      fNumber: 2.8,
      iso: 400,
      focalLength: 50,
      gpsPresent: true,
    });
  });

  it("records the coordinates only with RECORD_GPS=true", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    const { capture } = await makeThumbnails(photo, { ...options, recordGps: true });
    expect(capture?.latitude).toBeCloseTo(48.8583, 4);
    expect(capture?.longitude).toBeCloseTo(2.2945, 4);
  });

  it("keeps the thumbnails free of EXIF and GPS", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    const { thumbnails } = await makeThumbnails(photo, { ...options, recordGps: true });
    const meta = await sharp(thumbnails[0]?.data).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
  });

  it("writes the taken time without an offset when the camera recorded none", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    const file = join(dir, "no-offset.jpg");
    writeFileSync(file, photo);
    execFileSync("exiftool", ["-q", "-overwrite_original", "-OffsetTimeOriginal=", "-all:GPS*=", file]);
    const { capture } = await makeThumbnails(readFileSync(file), options);
    expect(capture).toMatchObject({ takenAt: "2024-05-01T14:03:22", gpsPresent: false });
  });

  it("drops a taken time or offset that is no real date (a camera's clock set to nonsense)", async (ctx) => {
    skipUnlessSupported(ctx, missing);
    const file = join(dir, "absurd.jpg");
    writeFileSync(file, photo);
    execFileSync("exiftool", ["-q", "-overwrite_original", "-OffsetTimeOriginal=+99:00", file]);
    expect((await makeThumbnails(readFileSync(file), options)).capture?.takenAt).toBe("2024-05-01T14:03:22");
    execFileSync("exiftool", ["-q", "-overwrite_original", "-DateTimeOriginal#=2024:13:45 25:61:61", file]);
    expect((await makeThumbnails(readFileSync(file), options)).capture?.takenAt).toBeUndefined();
  });

  it("has none for an image without EXIF", async () => {
    const plain = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#000" } })
      .png()
      .toBuffer();
    expect((await makeThumbnails(plain, options)).capture).toBeUndefined();
  });
});
