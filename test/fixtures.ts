import { deflateSync } from "node:zlib";
import sharp from "sharp";

/**
 * The hostile-upload fixture set, generated in code: every class of input an upload
 * bucket meets, with what the pipeline must make of it.
 */
export interface Fixture {
  name: string;
  /** The file name it is uploaded as (the extension may lie). */
  key: string;
  contentType: string;
  make: () => Promise<Buffer>;
  expect:
    | { status: "PROCESSED"; format: string; width: number; height: number; thumb128: [number, number] }
    | { status: "FAILED"; errorCode: string };
}

const solid = (width: number, height: number, channels: 3 | 4 = 3, alpha = 1) =>
  sharp({ create: { width, height, channels, background: { r: 30, g: 140, b: 220, alpha } } });

async function animated(format: "gif" | "webp"): Promise<Buffer> {
  const frames = await Promise.all([255, 0, 128].map((r) => solid(64, 48).tint({ r, g: 40, b: 40 }).png().toBuffer()));
  const joined = sharp(frames, { join: { animated: true } });
  return format === "gif" ? joined.gif().toBuffer() : joined.webp().toBuffer();
}

/** A PNG whose header declares width×height but whose pixel data is cut short. */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    // One row of a single-colour image: how such a bomb stays tiny on disk.
    chunk("IDAT", deflateSync(Buffer.alloc(1 + width * 3))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export const fixtures: Fixture[] = [
  {
    name: "an ordinary JPEG photo",
    key: "photo.jpg",
    contentType: "image/jpeg",
    make: () => solid(1200, 800).jpeg().toBuffer(),
    expect: { status: "PROCESSED", format: "jpeg", width: 1200, height: 800, thumb128: [128, 85] },
  },
  {
    name: "a PNG with transparency",
    key: "transparent.png",
    contentType: "image/png",
    make: () => solid(400, 200, 4, 0).png().toBuffer(),
    expect: { status: "PROCESSED", format: "png", width: 400, height: 200, thumb128: [128, 64] },
  },
  {
    name: "an EXIF-rotated phone photo (orientation 6)",
    key: "phone.jpg",
    contentType: "image/jpeg",
    make: () => solid(400, 300).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
    expect: { status: "PROCESSED", format: "jpeg", width: 300, height: 400, thumb128: [96, 128] },
  },
  {
    name: "a 1-pixel image (never enlarged)",
    key: "pixel.png",
    contentType: "image/png",
    make: () => solid(1, 1).png().toBuffer(),
    expect: { status: "PROCESSED", format: "png", width: 1, height: 1, thumb128: [1, 1] },
  },
  {
    name: "a 20000×20 panorama (thumbnail at least 1 pixel high)",
    key: "panorama.png",
    contentType: "image/png",
    make: () => solid(20_000, 20).png().toBuffer(),
    expect: { status: "PROCESSED", format: "png", width: 20_000, height: 20, thumb128: [128, 1] },
  },
  {
    name: "an animated GIF (first frame only)",
    key: "animated.gif",
    contentType: "image/gif",
    make: () => animated("gif"),
    expect: { status: "PROCESSED", format: "gif", width: 64, height: 48, thumb128: [64, 48] },
  },
  {
    name: "an animated WebP (first frame only)",
    key: "animated.webp",
    contentType: "image/webp",
    make: () => animated("webp"),
    expect: { status: "PROCESSED", format: "webp", width: 64, height: 48, thumb128: [64, 48] },
  },
  {
    name: "a PNG named .jpg (type from content, not extension)",
    key: "actually-a-png.jpg",
    contentType: "image/jpeg",
    make: () => solid(256, 256).png().toBuffer(),
    expect: { status: "PROCESSED", format: "png", width: 256, height: 256, thumb128: [128, 128] },
  },
  {
    name: "a 16-bit greyscale PNG",
    key: "grey16.png",
    contentType: "image/png",
    make: () => solid(300, 300).greyscale().toColourspace("grey16").png().toBuffer(),
    expect: { status: "PROCESSED", format: "png", width: 300, height: 300, thumb128: [128, 128] },
  },
  {
    name: "a text file named .jpg",
    key: "notes.jpg",
    contentType: "image/jpeg",
    make: async () => Buffer.from("These are my notes, not a picture.\n".repeat(20)),
    expect: { status: "FAILED", errorCode: "NOT_AN_IMAGE" },
  },
  {
    name: "an empty file",
    key: "empty.png",
    contentType: "image/png",
    make: async () => Buffer.alloc(0),
    expect: { status: "FAILED", errorCode: "EMPTY_OBJECT" },
  },
  {
    name: "a truncated JPEG",
    key: "truncated.jpg",
    contentType: "image/jpeg",
    make: async () => {
      const whole = await solid(800, 600).jpeg().toBuffer();
      return whole.subarray(0, Math.floor(whole.length / 2));
    },
    expect: { status: "FAILED", errorCode: "CORRUPT_IMAGE" },
  },
  {
    name: "an SVG that references a local file",
    key: "vector.svg",
    contentType: "image/svg+xml",
    make: async () =>
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100"><image xlink:href="file:///etc/passwd" width="100" height="100"/></svg>',
      ),
    expect: { status: "FAILED", errorCode: "UNSUPPORTED_FORMAT" },
  },
  {
    name: "a PDF document",
    key: "document.pdf",
    contentType: "application/pdf",
    make: async () => Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"),
    expect: { status: "FAILED", errorCode: "UNSUPPORTED_FORMAT" },
  },
  {
    name: "a decompression bomb (16000×16000 declared in a tiny PNG)",
    key: "bomb.png",
    contentType: "image/png",
    make: async () => pngHeaderOnly(16_000, 16_000),
    expect: { status: "FAILED", errorCode: "TOO_MANY_PIXELS" },
  },
  {
    // Over sharp's own default pixel limit (16383²): the header read must not call it corrupt.
    name: "a decompression bomb beyond sharp's own limit (30000×30000 declared)",
    key: "bomb-30k.png",
    contentType: "image/png",
    make: async () => pngHeaderOnly(30_000, 30_000),
    expect: { status: "FAILED", errorCode: "TOO_MANY_PIXELS" },
  },
  {
    name: "a file over the byte limit (checked before download)",
    key: "huge.jpg",
    contentType: "image/jpeg",
    make: async () => Buffer.alloc(3 * 1024 * 1024, 0xff),
    expect: { status: "FAILED", errorCode: "TOO_LARGE" },
  },
];

/** Keys that must round-trip byte for byte from upload through the S3 event to the item. */
export const awkwardNames = [
  "holiday photo 2026.jpg",
  "1+1=2.jpg",
  "100% sure.jpg",
  "Tom & Jerry (1).jpg",
  "Zürich Ørsted 東京 café.jpg",
  "a%20b+c.jpg",
  "nested/folder/x.jpg",
];
