import type { S3Client } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { type Clients, createPresignClient } from "../src/aws/clients.ts";
import type { Config } from "../src/config.ts";
import { originalResponse, presignGet, type ResponseOverrides } from "../src/store/manage.ts";
import { type ImageItem, imageIdFor, ticketKey } from "../src/store/metadata.ts";

/** What the browser gets for an image: no bucket names or sequencers, URLs instead of keys. */
export interface ImageView {
  imageId: string;
  name: string;
  status: ImageItem["status"];
  format?: string;
  contentType?: string;
  width?: number;
  height?: number;
  bytes?: number;
  dominantColor?: string;
  uploadDate: string;
  processedAt: string;
  processingMs: number;
  errorCode?: string;
  errorMessage?: string;
  /** The decoder's own words, for debugging a failure. */
  errorDetail?: string;
  /** Thumbnails with transparent pixels: the gallery shows them on a checkerboard. */
  transparent?: boolean;
  /** When the photo was taken (EXIF), ISO 8601; with its offset when the camera recorded one. */
  takenAt?: string;
  capture?: ImageItem["capture"];
  thumbnails: { size: number; width: number; height: number; bytes: number; format: string; url: string }[];
  /** Only on a single image (GET /api/images/:id): a link to the uploaded original. */
  originalUrl?: string;
}

const URL_LIFETIME_SECONDS = 2 * 60 * 60;
const SIGNING_STEP_MS = 15 * 60 * 1000;

/**
 * Signed at the start of the current 15-minute step, so a thumbnail keeps the same URL
 * (and stays in the browser's cache) across page loads; it is valid for at least 1 h 45 min.
 */
function signingDate(now = Date.now()): Date {
  return new Date(now - (now % SIGNING_STEP_MS));
}

/**
 * The S3 client that signs URLs for the browser: the usual one, unless the browser reaches
 * the AWS endpoint under another name (WEB_PUBLIC_S3_ENDPOINT). Signing needs no network.
 */
export function createPresigner(config: Config, clients: Clients): S3Client {
  const endpoint = config.web.publicS3Endpoint;
  return endpoint ? createPresignClient(config, endpoint) : clients.s3Presign;
}

export function presignForBrowser(
  s3: S3Client,
  bucket: string,
  key: string,
  response?: ResponseOverrides,
): Promise<string> {
  return presignGet(s3, bucket, key, {
    expiresIn: URL_LIFETIME_SECONDS,
    signingDate: signingDate(),
    ...(response && { response }),
  });
}

export async function toImageView(
  config: Config,
  s3: S3Client,
  item: ImageItem,
  options: { original?: boolean } = {},
): Promise<ImageView> {
  const thumbnails = await Promise.all(
    (item.thumbnails ?? []).map(async (t) => ({
      size: t.size,
      width: t.width,
      height: t.height,
      bytes: t.bytes,
      format: t.format,
      url: await presignForBrowser(s3, config.names.thumbnailsBucket, t.key),
    })),
  );
  return {
    imageId: item.imageId,
    name: item.name,
    status: item.status,
    format: item.format,
    contentType: item.contentType,
    width: item.width,
    height: item.height,
    bytes: item.bytes,
    dominantColor: item.dominantColor,
    uploadDate: item.uploadDate,
    processedAt: item.processedAt,
    processingMs: item.processingMs,
    errorCode: item.errorCode,
    errorMessage: item.errorMessage,
    errorDetail: item.errorDetail,
    transparent: item.transparent,
    takenAt: item.takenAt,
    capture: item.capture,
    thumbnails,
    // Never inline unless it is a raster image the worker decoded: see originalResponse.
    ...(options.original && {
      originalUrl: await presignForBrowser(s3, item.bucket, item.key, originalResponse(item)),
    }),
  };
}

export class UploadRequestError extends Error {
  override name = "UploadRequestError";
}

export interface UploadRequest {
  name: string;
  type: string;
  size: number;
}

export interface UploadTicket {
  /** Where to POST the multipart form: S3 itself, never this server. */
  url: string;
  /** Form fields to send before the file, in this order. */
  fields: Record<string, string>;
  key: string;
  name: string;
  imageId: string;
  expiresAt: string;
}

const UPLOAD_LIFETIME_SECONDS = 10 * 60;
const MAX_NAME_LENGTH = 200;

/**
 * The types a browser may upload: raster formats the worker decodes (sharp/libvips, HEIC/HEIF
 * with libheif). SVG is not among them: it can carry script, and S3 serves an original with
 * the Content-Type it was uploaded with.
 */
export const UPLOAD_TYPES = [
  "image/jpeg",
  "image/png",
  "image/webp",
  "image/avif",
  "image/gif",
  "image/tiff",
  "image/heic",
  "image/heif",
] as const;

/**
 * A presigned POST for one file, giving the browser exactly one right: to create the object
 * `uploads/<random id>/<cleaned name>` once, with this Content-Type and exactly the declared
 * size in bytes (1..MAX_IMAGE_BYTES),
 * for 10 minutes. Every condition is an exact match (`eq`): never `starts-with` on the key and
 * never `${filename}`, so the page cannot choose another key (or replace another image).
 * Conditions as in the S3 POST policy reference (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html).
 * Throws UploadRequestError (400) for a request it will not sign.
 */
export async function presignUpload(config: Config, s3: S3Client, request: unknown): Promise<UploadTicket> {
  const { name, type, size } = validateUpload(config, request);
  const key = ticketKey(config.uploadPrefix, name);
  const post = await createPresignedPost(s3, {
    Bucket: config.names.uploadsBucket,
    Key: key,
    // The size the page declared, exactly (a File's size is exact): a ticket asked for 1,000
    // bytes cannot carry 50 MB.
    Conditions: [["content-length-range", size, size], { "Content-Type": type }],
    Fields: { "Content-Type": type },
    Expires: UPLOAD_LIFETIME_SECONDS,
  });
  return {
    url: post.url,
    fields: post.fields,
    key,
    name,
    imageId: imageIdFor(config.names.uploadsBucket, key),
    expiresAt: new Date(Date.now() + UPLOAD_LIFETIME_SECONDS * 1000).toISOString(),
  };
}

// Control characters (C0, DEL, C1) and the bidirectional formatting characters that make
// "gpj.exe" read as "exe.jpg" (Unicode TR9: ALM, LRM, RLM, LRE..RLO, LRI..PDI).
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
const UNSAFE_NAME = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * The file name as a key's last segment: NFC, path separators and S3's `${filename}` placeholder
 * neutralised, surrounding spaces and dots removed ("." and ".." clean to nothing).
 */
export function cleanFileName(raw: string): string {
  return raw
    .normalize("NFC")
    .replace(/[/\\]/g, "_")
    .replace(/\$\{/g, "_{")
    .replace(/^[\s.]+|[\s.]+$/g, "");
}

function validateUpload(config: Config, request: unknown): UploadRequest {
  if (typeof request !== "object" || request === null) {
    throw new UploadRequestError("the body must be a JSON object {name, type, size}");
  }
  const { name: rawName, type, size } = request as Record<string, unknown>;
  if (typeof rawName !== "string" || rawName.trim() === "") throw new UploadRequestError("name is required");
  if (UNSAFE_NAME.test(rawName)) {
    throw new UploadRequestError("name must not contain control or bidirectional formatting characters");
  }
  const name = cleanFileName(rawName);
  if (name === "") throw new UploadRequestError(`name ${JSON.stringify(rawName)} is not a file name`);
  if (name.length > MAX_NAME_LENGTH) {
    throw new UploadRequestError(`name must be at most ${MAX_NAME_LENGTH} characters`);
  }
  const lowerType = typeof type === "string" ? type.toLowerCase() : type;
  // SVG can carry script, and the original is served from S3 with its own Content-Type.
  if (lowerType === "image/svg+xml") throw new UploadRequestError("SVG images are not accepted");
  if (typeof lowerType !== "string" || !(UPLOAD_TYPES as readonly string[]).includes(lowerType)) {
    throw new UploadRequestError(`type must be one of ${UPLOAD_TYPES.join(", ")}, not ${JSON.stringify(type)}`);
  }
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1) {
    throw new UploadRequestError("size must be the file's size in bytes (at least 1)");
  }
  if (size > config.limits.maxBytes) {
    throw new UploadRequestError(`the file is ${size} bytes; the limit is ${config.limits.maxBytes} bytes`);
  }
  return { name, type: lowerType, size };
}

/** The origins presigned URLs point at, for the Content-Security-Policy. */
export async function s3Origins(config: Config, s3: S3Client): Promise<{ uploads: string; thumbnails: string }> {
  const [uploads, thumbnails] = await Promise.all([
    presignForBrowser(s3, config.names.uploadsBucket, `${config.uploadPrefix}probe`),
    presignForBrowser(s3, config.names.thumbnailsBucket, "probe"),
  ]);
  return { uploads: new URL(uploads).origin, thumbnails: new URL(thumbnails).origin };
}
