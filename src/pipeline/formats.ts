import { fileTypeFromBuffer } from "file-type";
import { ErrorCode, PermanentError } from "../errors.ts";

/**
 * What the bytes are, from their magic bytes (file-type), never from the key's extension or
 * the uploader's Content-Type.
 */
export interface DetectedFormat {
  /** file-type's extension ("jpg", "heic", "bmp"…), or "svg" from our own text check. */
  ext: string;
  mime: string;
}

/** Detected formats we decode (file-type's extensions). */
const DECODED = new Set(["jpg", "png", "apng", "gif", "webp", "tif", "avif", "heic"]);

/** Display names, where the extension (file-type's or sharp's format name) reads badly in a sentence. */
const NAMES: Record<string, string> = {
  jpg: "JPEG",
  apng: "PNG",
  webp: "WebP",
  tif: "TIFF",
  cr2: "Canon RAW (CR2)",
  cr3: "Canon RAW (CR3)",
  nef: "Nikon RAW (NEF)",
  arw: "Sony RAW (ARW)",
  orf: "Olympus RAW (ORF)",
  rw2: "Panasonic RAW (RW2)",
  raf: "Fujifilm RAW (RAF)",
  dng: "DNG (camera RAW)",
  jxl: "JPEG XL",
  jp2: "JPEG 2000",
  jpx: "JPEG 2000",
  jpm: "JPEG 2000",
  j2c: "JPEG 2000",
  jxr: "JPEG XR",
  psd: "Photoshop (PSD)",
  xcf: "GIMP (XCF)",
  ps: "PostScript",
};

/** The formats we decode, as the README and error messages list them. */
export const SUPPORTED_FORMATS_TEXT = "JPEG, PNG, GIF, WebP, TIFF, AVIF and HEIC/HEIF";

/** "BMP", "JPEG", "Nikon RAW (NEF)": a format's name for messages, from file-type's or sharp's name. */
export function formatName(ext: string): string {
  return NAMES[ext] ?? ext.toUpperCase();
}

/**
 * Names the format by its magic bytes (the npm `file-type`, which knows some 200 formats)
 * and refuses any we do not decode, before a decoder sees the bytes.
 *
 * @throws PermanentError UNSUPPORTED_FORMAT naming a format that is known but not decoded
 *   ("BMP images are not supported"), including SVG, PDF and PostScript, which are never
 *   rendered since they can reach local files or the network; NOT_AN_IMAGE when the bytes
 *   are no format at all.
 */
export async function detectFormat(input: Buffer): Promise<DetectedFormat> {
  // file-type reads binary signatures; SVG is text and has none.
  if (isSvg(input)) throw unsupported({ ext: "svg", mime: "image/svg+xml" });
  const type = await fileTypeFromBuffer(input);
  if (!type) {
    throw new PermanentError(ErrorCode.NotAnImage, "Not an image: the content matches no known file format");
  }
  if (!DECODED.has(type.ext)) throw unsupported(type);
  return { ext: type.ext, mime: type.mime };
}

function unsupported(type: DetectedFormat): PermanentError {
  const noun = type.mime.startsWith("image/") ? "images" : "files";
  return new PermanentError(
    ErrorCode.UnsupportedFormat,
    `${formatName(type.ext)} ${noun} are not supported (${type.mime}); accepted are ${SUPPORTED_FORMATS_TEXT}`,
  );
}

function isSvg(input: Buffer): boolean {
  const head = input
    .subarray(0, 4096)
    .toString("latin1")
    .replace(/^\xEF\xBB\xBF/, "")
    .trimStart();
  return head.startsWith("<") && /<svg[\s>]/i.test(head);
}
