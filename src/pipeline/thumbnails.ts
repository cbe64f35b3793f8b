import sharp, { type Metadata, type OutputInfo, type Sharp } from "sharp";
import type { ThumbnailFormat } from "../config.ts";
import { ErrorCode, PermanentError } from "../errors.ts";
import { overLimitFigures } from "../format.ts";
import { type Capture, readCapture } from "./capture.ts";
import { decodeError } from "./decode-errors.ts";
import { type DetectedFormat, detectFormat, formatName } from "./formats.ts";
import { decodeHevc, withIccProfile } from "./heif.ts";

/** libvips loaders we let decode, whatever file-type said: a last guard against SVG and PDF. */
const DECODERS = ["jpeg", "png", "webp", "gif", "tiff", "heif"];

export const CONTENT_TYPES: Record<ThumbnailFormat, string> = {
  jpeg: "image/jpeg",
  webp: "image/webp",
  avif: "image/avif",
  png: "image/png",
};

export const EXTENSIONS: Record<ThumbnailFormat, string> = { jpeg: "jpg", webp: "webp", avif: "avif", png: "png" };

export interface ImageInfo {
  /** Detected from the bytes, never from the key's extension: jpeg, png, gif, webp, tiff, avif or heic. */
  format: string;
  /** Display size: after EXIF orientation. */
  width: number;
  height: number;
  hasAlpha: boolean;
  /** Frames in an animated GIF/WebP; 1 otherwise. Only the first is decoded. */
  pages: number;
  /**
   * How the pixels reach sRGB. "default": sharp converts through the embedded ICC profile
   * (or assumes sRGB) and keeps JPEG/WebP shrink-on-load. "convert-early": 16-bit input,
   * which sharp's default pipeline processes in Display P3 and writes out untransformed (an
   * Adobe RGB red (220,40,40) became (203,59,50)); asking for an sRGB pipeline converts
   * through the profile at load instead. "cmyk": sharp's default CMYK path is 7.7 off (mean,
   * 0-255) from lcms through the same profile, and its sRGB pipeline converts every pixel
   * before the resize; so the image is resized in CMYK first, its profile kept, and only the
   * small copy is converted (0.7 off, a third of the CPU on a 2560×1600 photo).
   */
  colour: "default" | "convert-early" | "cmyk";
  /** HEVC-coded HEIF (phones' HEIC), which sharp's prebuilt libvips cannot decode. */
  hevc: boolean;
  /** The embedded ICC profile, when the pixels come from our own HEVC decoder. */
  icc?: Buffer;
  /** The EXIF block libvips found in the container, for the capture metadata. */
  exif?: Buffer;
}

export interface ThumbnailOptions {
  sizes: number[];
  format: ThumbnailFormat;
  quality: number;
  maxPixels: number;
  /** Keep GPS coordinates in the capture metadata (RECORD_GPS). */
  recordGps?: boolean;
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
  /** Some pixels are transparent, and the thumbnails keep them. */
  transparent: boolean;
  /** When and with what the photo was taken, from its EXIF; undefined when it has none. */
  capture: Capture | undefined;
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
  const detected = await detectFormat(input);
  let meta: Metadata;
  try {
    // No pixel limit on the header read itself (nothing is decoded): over sharp's own default
    // limit, metadata() would throw "exceeds pixel limit" and a bomb would read as corrupt.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw decodeError(formatName(detected.ext), error);
  }
  const format = formatOf(meta, detected);
  if (!DECODERS.includes(meta.format ?? "")) {
    throw new PermanentError(ErrorCode.UnsupportedFormat, `${formatName(detected.ext)} images are not supported`);
  }
  const storedWidth = meta.width ?? 0;
  // For animations, height is one frame's height when pageHeight is given.
  const storedHeight = meta.pageHeight ?? meta.height ?? 0;
  if (storedWidth < 1 || storedHeight < 1) {
    throw new PermanentError(ErrorCode.CorruptImage, `The ${formatName(detected.ext)} header declares no dimensions`);
  }
  const pixels = storedWidth * storedHeight;
  if (pixels > maxPixels) {
    const [shown, limit] = overLimitFigures(pixels, maxPixels, (n) => `${(n / 1e6).toFixed(1)} MP`, "pixels");
    throw new PermanentError(
      ErrorCode.TooManyPixels,
      `${storedWidth}×${storedHeight} is ${shown}, over the limit of ${limit}`,
    );
  }
  const hevc = meta.format === "heif" && meta.compression === "hevc";
  // EXIF orientations 5-8 rotate by 90°: the displayed image is transposed. HEIF rotates with
  // its own irot/imir boxes, which libheif applies (and EXIF orientation there is only
  // informative, ISO/IEC 23008-12 §6.5.2); libvips reports the size after them.
  const transposed = !hevc && (meta.orientation ?? 1) >= 5;
  return {
    format,
    width: transposed ? storedHeight : storedWidth,
    height: transposed ? storedWidth : storedHeight,
    hasAlpha: meta.hasAlpha ?? false,
    pages: meta.pages ?? 1,
    colour: meta.depth !== "uchar" ? "convert-early" : meta.space === "cmyk" ? "cmyk" : "default",
    hevc,
    ...(hevc && meta.icc ? { icc: meta.icc } : {}),
    ...(meta.exif ? { exif: meta.exif } : {}),
  };
}

/** sharp calls AVIF and HEIC both "heif"; the item says which by the codec inside. */
function formatOf(meta: Metadata, detected: DetectedFormat): string {
  if (meta.format !== "heif") return meta.format ?? detected.ext;
  return meta.compression === "av1" ? "avif" : "heic";
}

/**
 * Every size from one decode: the image is decoded once, shrunk on load to the largest
 * size, and the smaller sizes are resized from that small in-memory copy.
 */
export async function makeThumbnails(input: Buffer, options: ThumbnailOptions): Promise<ThumbnailResult> {
  let info = await inspectImage(input, options.maxPixels);
  const largest = Math.max(...options.sizes);
  const box = { fit: "inside", withoutEnlargement: true } as const;
  let base: Pixels;
  if (info.hevc) {
    const decoded = await decodeHevc(input).catch((error: unknown) => {
      throw decodeError(formatName(info.format), error);
    });
    info = { ...info, width: decoded.width, height: decoded.height };
    const rgba = sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: 4 } });
    base = await (info.hasAlpha ? rgba : rgba.removeAlpha()).resize(largest, largest, box).raw().toBuffer({
      resolveWithObject: true,
    });
    // Our decoder gives the pixels in the file's colour space: convert the small copy.
    if (info.icc) {
      const png = await sharp(base.data, rawOf(base)).png({ compressionLevel: 0 }).toBuffer();
      base = await sharp(withIccProfile(png, info.icc))
        .toColourspace("srgb")
        .raw()
        .toBuffer({ resolveWithObject: true });
    }
  } else {
    const pipeline = sharp(input, { limitInputPixels: options.maxPixels, failOn: "error", pages: 1 });
    const warnings: string[] = [];
    pipeline.on("warning", (warning: string) => warnings.push(warning));
    try {
      if (info.colour === "cmyk") {
        // Resized in CMYK with the ICC profile kept (an uncompressed TIFF carries both), then
        // the small copy converted; with no profile libvips assumes its built-in CMYK one.
        const small = await pipeline
          .pipelineColourspace("cmyk")
          .rotate()
          .resize(largest, largest, box)
          .toColourspace("cmyk")
          .keepIccProfile()
          .tiff({ compression: "none" })
          .toBuffer();
        base = await sharp(small).pipelineColourspace("srgb").toColourspace("srgb").raw().toBuffer({
          resolveWithObject: true,
        });
      } else {
        if (info.colour === "convert-early") pipeline.pipelineColourspace("srgb");
        base = await pipeline.rotate().resize(largest, largest, box).toColourspace("srgb").raw().toBuffer({
          resolveWithObject: true,
        });
      }
    } catch (error) {
      throw decodeError(formatName(info.format), error, warnings);
    }
  }

  // JPEG has no alpha: a transparent image gets WebP thumbnails instead of a white square.
  const transparent = isTransparent(base);
  const format = options.format === "jpeg" && transparent ? "webp" : options.format;
  const thumbnails = await Promise.all(
    options.sizes.map(async (size) => {
      const pipeline = encode(sharp(base.data, rawOf(base)).resize(size, size, box), format, options.quality);
      const { data, info: out } = await pipeline.toBuffer({ resolveWithObject: true });
      return {
        size,
        width: out.width,
        height: out.height,
        bytes: data.length,
        format,
        contentType: CONTENT_TYPES[format],
        data,
      } satisfies Thumbnail;
    }),
  );

  return {
    info,
    thumbnails,
    // Transparent pixels count as white, as they are shown on the gallery's light cards.
    dominantColor: averageColor(base.data, base.info.channels),
    transparent,
    capture: await readCapture(info.exif, options.recordGps ?? false),
  };
}

type Pixels = { data: Buffer; info: OutputInfo };

function rawOf(pixels: Pixels) {
  const { width, height, channels } = pixels.info;
  return { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } };
}

/** Whether any pixel is less than opaque: an alpha channel that is all 255 needs no WebP. */
export function isTransparent({ data, info }: Pixels): boolean {
  if (info.channels !== 2 && info.channels !== 4) return false;
  for (let i = info.channels - 1; i < data.length; i += info.channels) if ((data[i] ?? 255) < 255) return true;
  return false;
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
      // An opaque alpha channel still has to go: flatten onto white, never black.
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
