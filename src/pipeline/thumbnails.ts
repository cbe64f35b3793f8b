import sharp, { type Metadata, type OutputInfo, type Sharp } from "sharp";
import type { ThumbnailFormat } from "../config.ts";
import { ErrorCode, PermanentError } from "../errors.ts";

/** Formats we decode. SVG and PDF are refused: rendering them can reach local files or the network. */
export const SUPPORTED_INPUT_FORMATS = ["jpeg", "png", "webp", "gif", "tiff", "avif", "heif"] as const;

export const CONTENT_TYPES: Record<ThumbnailFormat, string> = {
  jpeg: "image/jpeg",
  webp: "image/webp",
  avif: "image/avif",
  png: "image/png",
};

export const EXTENSIONS: Record<ThumbnailFormat, string> = { jpeg: "jpg", webp: "webp", avif: "avif", png: "png" };

export interface ImageInfo {
  /** Detected from the bytes, never from the key's extension. */
  format: string;
  /** Display size: after EXIF orientation. */
  width: number;
  height: number;
  hasAlpha: boolean;
  /** Frames in an animated GIF/WebP; 1 otherwise. Only the first is decoded. */
  pages: number;
  /**
   * How the pixels reach sRGB. "default": sharp converts through the embedded ICC profile
   * (or assumes sRGB) and keeps JPEG/WebP shrink-on-load. "convert-early": 16-bit and CMYK
   * input, which sharp's default pipeline processes in Display P3 (16-bit) and writes out
   * untransformed, so that an Adobe RGB red (220,40,40) became (203,59,50); asking for an
   * sRGB pipeline converts through the profile at load instead, at the price of
   * shrink-on-load, which only JPEG and WebP (8-bit RGB) have anyway.
   */
  colour: "default" | "convert-early";
}

export interface ThumbnailOptions {
  sizes: number[];
  format: ThumbnailFormat;
  quality: number;
  maxPixels: number;
}

export interface Thumbnail {
  /** The bounding box this thumbnail fits inside (size × size). */
  size: number;
  width: number;
  height: number;
  bytes: number;
  format: ThumbnailFormat;
  contentType: string;
  data: Buffer;
}

export interface ThumbnailResult {
  info: ImageInfo;
  thumbnails: Thumbnail[];
  /** Dominant colour as #rrggbb, a placeholder while the thumbnail loads. */
  dominantColor: string;
}

const WHITE = { r: 255, g: 255, b: 255 };

/**
 * For a process that thumbnails many different images, several at a time (measured with
 * `npm run bench`): one libvips thread per image, since the worker already runs an image
 * per core, and no operation cache, which never hits on distinct images and only holds
 * memory (peak RSS over the corpus went from about 550 to under 500 MiB).
 */
export function configureSharpForWorker(): void {
  sharp.cache(false);
  sharp.concurrency(1);
}

/**
 * Reads only the header (about 2% of a thumbnail's cost) and enforces the limits before
 * anything is decoded: a 31 KB PNG can declare 16000×16000 pixels.
 */
export async function inspectImage(input: Buffer, maxPixels: number): Promise<ImageInfo> {
  const document = sniffDocument(input);
  if (document) {
    throw new PermanentError(ErrorCode.UnsupportedFormat, `Unsupported format: ${document} files are not rendered`);
  }
  let meta: Metadata;
  try {
    meta = await sharp(input).metadata();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/unsupported image format/i.test(message)) {
      throw new PermanentError(ErrorCode.NotAnImage, "Not an image: the content matches no supported image format", {
        cause: error,
      });
    }
    throw new PermanentError(ErrorCode.CorruptImage, `Cannot read the image header: ${message}`, { cause: error });
  }
  const format = meta.format ?? "unknown";
  if (!(SUPPORTED_INPUT_FORMATS as readonly string[]).includes(format)) {
    throw new PermanentError(
      ErrorCode.UnsupportedFormat,
      `Unsupported format "${format}": accepted are ${SUPPORTED_INPUT_FORMATS.join(", ")}`,
    );
  }
  const storedWidth = meta.width ?? 0;
  // For animations, height is one frame's height when pageHeight is given.
  const storedHeight = meta.pageHeight ?? meta.height ?? 0;
  if (storedWidth < 1 || storedHeight < 1) {
    throw new PermanentError(ErrorCode.CorruptImage, "The image header declares no dimensions");
  }
  const pixels = storedWidth * storedHeight;
  if (pixels > maxPixels) {
    throw new PermanentError(
      ErrorCode.TooManyPixels,
      `${storedWidth}×${storedHeight} is ${(pixels / 1e6).toFixed(1)} MP, over the limit of ${(maxPixels / 1e6).toFixed(1)} MP`,
    );
  }
  // EXIF orientations 5-8 rotate by 90°: the displayed image is transposed.
  const transposed = (meta.orientation ?? 1) >= 5;
  return {
    format,
    width: transposed ? storedHeight : storedWidth,
    height: transposed ? storedWidth : storedHeight,
    hasAlpha: meta.hasAlpha ?? false,
    pages: meta.pages ?? 1,
    colour: meta.depth === "uchar" && meta.space !== "cmyk" ? "default" : "convert-early",
  };
}

/**
 * Vector and document formats are refused before any decoder sees them: rendering SVG,
 * PDF or PostScript can pull in local files or URLs, and a thumbnail must never show
 * what is on this machine.
 */
function sniffDocument(input: Buffer): string | undefined {
  const head = input
    .subarray(0, 512)
    .toString("latin1")
    .replace(/^\uFEFF|^\xEF\xBB\xBF/, "")
    .trimStart();
  if (head.startsWith("%PDF")) return "PDF";
  if (head.startsWith("%!PS")) return "PostScript";
  if (head.startsWith("<")) return /<svg[\s>]/i.test(input.subarray(0, 4096).toString("latin1")) ? "SVG" : "XML/HTML";
  return undefined;
}

/**
 * Every size from one decode: the image is decoded once, shrunk on load to the largest
 * size, and the smaller sizes are resized from that small in-memory copy.
 */
export async function makeThumbnails(input: Buffer, options: ThumbnailOptions): Promise<ThumbnailResult> {
  const info = await inspectImage(input, options.maxPixels);
  const largest = Math.max(...options.sizes);
  let base: { data: Buffer; info: OutputInfo };
  try {
    let pipeline = sharp(input, { limitInputPixels: options.maxPixels, failOn: "error", pages: 1 });
    if (info.colour === "convert-early") pipeline = pipeline.pipelineColourspace("srgb");
    base = await pipeline
      .rotate()
      .resize(largest, largest, { fit: "inside", withoutEnlargement: true })
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new PermanentError(ErrorCode.CorruptImage, `Cannot decode the image: ${message}`, { cause: error });
  }
  const raw = {
    raw: { width: base.info.width, height: base.info.height, channels: base.info.channels as 1 | 2 | 3 | 4 },
  };

  const thumbnails = await Promise.all(
    options.sizes.map(async (size) => {
      let pipeline = sharp(base.data, raw).resize(size, size, { fit: "inside", withoutEnlargement: true });
      pipeline = encode(pipeline, options.format, options.quality);
      const { data, info: out } = await pipeline.toBuffer({ resolveWithObject: true });
      return {
        size,
        width: out.width,
        height: out.height,
        bytes: data.length,
        format: options.format,
        contentType: CONTENT_TYPES[options.format],
        data,
      } satisfies Thumbnail;
    }),
  );

  // Transparent pixels count as white, as they are shown on the gallery's light cards.
  return { info, thumbnails, dominantColor: averageColor(base.data, base.info.channels) };
}

/**
 * The mean colour of the decoded image (transparent pixels count as white, like the
 * gallery's cards), from about 4,000 sampled pixels: a placeholder needs no more, and a
 * second libvips pipeline for statistics would cost more than the whole estimate.
 */
export function averageColor(pixels: Buffer, channels: number): string {
  const count = Math.floor(pixels.length / channels);
  const step = Math.max(1, Math.floor(count / 4096));
  const sum = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < count; i += step) {
    const at = i * channels;
    const grey = channels < 3;
    const alpha = channels === 2 || channels === 4 ? (pixels[at + channels - 1] ?? 255) / 255 : 1;
    for (let c = 0; c < 3; c++) {
      const value = pixels[at + (grey ? 0 : c)] ?? 0;
      sum[c] = (sum[c] ?? 0) + value * alpha + 255 * (1 - alpha);
    }
    n++;
  }
  return toHex({
    r: Math.round((sum[0] ?? 0) / n),
    g: Math.round((sum[1] ?? 0) / n),
    b: Math.round((sum[2] ?? 0) / n),
  });
}

function encode(pipeline: Sharp, format: ThumbnailFormat, quality: number): Sharp {
  switch (format) {
    case "jpeg":
      // JPEG has no alpha: flatten onto white, never the black that a plain conversion gives.
      return pipeline.flatten({ background: WHITE }).jpeg({ quality, mozjpeg: false });
    case "webp":
      return pipeline.webp({ quality, effort: 2 });
    case "avif":
      return pipeline.avif({ quality, effort: 2 });
    case "png":
      return pipeline.png({ compressionLevel: 6 });
  }
}

function toHex({ r, g, b }: { r: number; g: number; b: number }): string {
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}
