import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { PermanentError } from "../../src/errors.ts";
import { makeThumbnails, type ThumbnailOptions } from "../../src/pipeline/thumbnails.ts";

const options: ThumbnailOptions = { sizes: [128], format: "jpeg", quality: 80, maxPixels: 100_000_000 };

async function failure(input: Buffer): Promise<PermanentError> {
  try {
    await makeThumbnails(input, options);
  } catch (error) {
    if (error instanceof PermanentError) return error;
    throw error;
  }
  throw new Error("expected a PermanentError");
}

/** A 2×2 24-bit BMP: BITMAPFILEHEADER + BITMAPINFOHEADER, rows padded to 4 bytes. */
function bmp(): Buffer {
  const pixels = Buffer.alloc(16, 0x80);
  const header = Buffer.alloc(54);
  header.write("BM", 0, "latin1");
  header.writeUInt32LE(54 + pixels.length, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(2, 18);
  header.writeInt32LE(2, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(pixels.length, 34);
  return Buffer.concat([header, pixels]);
}

/** The start of a Canon CR2: a little-endian TIFF header followed by "CR", version 2. */
function cr2(): Buffer {
  const head = Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x10, 0x00, 0x00, 0x00, 0x43, 0x52, 0x02, 0x00]);
  return Buffer.concat([head, Buffer.alloc(4096)]);
}

describe("formats are named from their magic bytes", () => {
  it.for([
    ["a BMP", bmp, /^BMP images are not supported \(image\/bmp\)/],
    ["a Canon RAW", cr2, /^Canon RAW \(CR2\) images are not supported/],
    ["a Photoshop file", () => Buffer.concat([Buffer.from("8BPS\0\x01", "latin1"), Buffer.alloc(64)]), /^Photoshop/],
    ["a PDF", () => Buffer.from("%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"), /^PDF files are not supported/],
    [
      "an SVG",
      () => Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'),
      /^SVG images are not supported/,
    ],
    ["a ZIP archive", () => Buffer.concat([Buffer.from("PK\x03\x04", "latin1"), Buffer.alloc(64)]), /^ZIP files/],
  ] as const)("refuses %s as UNSUPPORTED_FORMAT, by name", async ([, make, message]) => {
    const error = await failure(make());
    expect(error.code).toBe("UNSUPPORTED_FORMAT");
    expect(error.message).toMatch(message);
    expect(error.message).toContain("accepted are JPEG, PNG, GIF, WebP, TIFF, AVIF and HEIC/HEIF");
  });

  it("calls bytes that are no format at all NOT_AN_IMAGE", async () => {
    const error = await failure(Buffer.from("These are my notes, not a picture.\n".repeat(20)));
    expect(error.code).toBe("NOT_AN_IMAGE");
    expect(error.message).toBe("Not an image: the content matches no known file format");
  });
});

describe("decoder failures are one clear line, with the decoder's words kept", () => {
  const solid = () => sharp({ create: { width: 300, height: 200, channels: 3, background: "#3a6" } });

  it("says a PNG with a bad checksum is corrupt, where libvips said 'libpng read error'", async () => {
    const png = Buffer.from(await solid().png().toBuffer());
    const idat = png.indexOf("IDAT");
    const crcAt = idat + 4 + png.readUInt32BE(idat - 4);
    png.writeUInt8((png.readUInt8(crcAt) ^ 0xff) >>> 0, crcAt); // the chunk's CRC
    const error = await failure(png);
    expect(error.code).toBe("CORRUPT_IMAGE");
    expect(error.message).toBe("The PNG's data is corrupt (checksum mismatch)");
    expect(error.detail).toContain("IDAT: CRC error");
  });

  it("says a truncated JPEG was cut off", async () => {
    const whole = await solid().jpeg().toBuffer();
    const error = await failure(whole.subarray(0, whole.length / 2));
    expect(error.code).toBe("CORRUPT_IMAGE");
    expect(error.message).toBe("The JPEG ends early: the file was cut off");
    expect(error.detail).toMatch(/premature end of JPEG/);
  });

  it("names a corrupt JPEG once, not once per libvips line", async () => {
    const jpg = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#3a6" } })
      .jpeg()
      .toBuffer();
    // libvips reports this damage as the same line twice.
    const broken = Buffer.concat([jpg.subarray(0, 1000), Buffer.alloc(3000, 0x55), jpg.subarray(4000)]);
    const error = await failure(broken);
    expect(error.message).not.toContain("\n");
    expect(error.message).toBe("The JPEG's compressed data is corrupt");
    const lines = (error.detail ?? "").split("; ");
    expect(new Set(lines).size).toBe(lines.length);
  });

  it("says a truncated WebP cannot be read, in one line", async () => {
    const webp = await solid().webp().toBuffer();
    const error = await failure(webp.subarray(0, webp.length / 2));
    expect(error.code).toBe("CORRUPT_IMAGE");
    expect(error.message).toMatch(/^The WebP/);
    expect(error.message).not.toContain("\n");
  });
});
