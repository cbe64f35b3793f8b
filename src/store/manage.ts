import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { S3Event } from "aws-lambda";
import type { Clients } from "../aws/clients.ts";
import { isNotFound } from "../aws/errors.ts";
import { queueUrl } from "../aws/lookups.ts";
import type { Config } from "../config.ts";
import { REPROCESS_CONFIGURATION_ID, s3EventMessage, stripQuotes } from "../pipeline/events.ts";
import { type ImageItem, ImageStatus } from "./metadata.ts";
import { allImages } from "./query.ts";

/** A resource bootstrap creates is not there (e.g. the queue): nothing to retry, run bootstrap. */
export class MissingResourceError extends Error {
  override name = "MissingResourceError";
}

export interface ImageUrls {
  original: string;
  thumbnails: { size: number; key: string; url: string }[];
  expiresIn: number;
}

/** A GET URL for one object. `signingDate` lets callers round it, so URLs stay cacheable. */
export function presignGet(
  s3: S3Client,
  bucket: string,
  key: string,
  options: { expiresIn: number; signingDate?: Date; response?: ResponseOverrides },
): Promise<string> {
  const { response, ...signing } = options;
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key, ...response }), signing);
}

/** GetObject's response-* overrides (the headers S3 answers with instead of the stored ones). */
export interface ResponseOverrides {
  ResponseContentType: string;
  ResponseContentDisposition: string;
}

/** Formats the worker decoded (sharp's names) that a browser may show inline, and their types. */
const INLINE_TYPES: Record<string, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
};

/**
 * How an original is served to a browser. It was uploaded with a Content-Type of the uploader's
 * choosing and S3 serves it with that type, from the S3 endpoint's origin: an HTML or SVG file
 * would run its script there. So an original is shown inline only when the worker decoded it as
 * a raster format browsers display, with that format's type (never the uploaded one); anything
 * else (failed, unprocessed, HEIC, TIFF) is a download of application/octet-stream.
 * Content-Disposition per RFC 6266, the name encoded per RFC 8187.
 */
export function originalResponse(item: ImageItem): ResponseOverrides {
  const name = item.name || item.key.slice(item.key.lastIndexOf("/") + 1) || "original";
  const filename = `filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
  const inline = item.status === ImageStatus.Processed ? INLINE_TYPES[item.format ?? ""] : undefined;
  return inline
    ? { ResponseContentType: inline, ResponseContentDisposition: `inline; ${filename}` }
    : { ResponseContentType: "application/octet-stream", ResponseContentDisposition: `attachment; ${filename}` };
}

/** GET URLs for the original and every thumbnail, signed with the client browsers would use. */
export async function presignImageUrls(
  config: Config,
  clients: Clients,
  item: ImageItem,
  expiresIn: number,
): Promise<ImageUrls> {
  const sign = (bucket: string, key: string) => presignGet(clients.s3Presign, bucket, key, { expiresIn });
  const [original, ...thumbnails] = await Promise.all([
    presignGet(clients.s3Presign, item.bucket, item.key, { expiresIn, response: originalResponse(item) }),
    ...(item.thumbnails ?? []).map((t) => sign(config.names.thumbnailsBucket, t.key)),
  ]);
  return {
    original: original as string,
    thumbnails: (item.thumbnails ?? []).map((t, i) => ({ size: t.size, key: t.key, url: thumbnails[i] as string })),
    expiresIn,
  };
}

export interface DeleteResult {
  imageId: string;
  original: { bucket: string; key: string };
  /** Keys deleted from the thumbnails bucket. */
  thumbnails: string[];
}

/**
 * Deletes the original, its thumbnails and the item, in that order: if anything fails
 * half-way the item is still there, so running the delete again finishes the job.
 *
 * "Its thumbnails" are the keys the item lists plus anything else under `{imageId}/` in the
 * thumbnails bucket: that prefix belongs to this image alone, and it also holds sizes that
 * were dropped from THUMBNAIL_SIZES since the image was processed.
 */
export async function deleteImage(config: Config, clients: Clients, item: ImageItem): Promise<DeleteResult> {
  const bucket = config.names.thumbnailsBucket;
  await clients.s3.send(new DeleteObjectCommand({ Bucket: item.bucket, Key: item.key }));

  const keys = new Set((item.thumbnails ?? []).map((t) => t.key));
  for await (const page of paginateListObjectsV2(
    { client: clients.s3 },
    { Bucket: bucket, Prefix: `${item.imageId}/` },
  )) {
    for (const object of page.Contents ?? []) if (object.Key) keys.add(object.Key);
  }

  const thumbnails = [...keys].sort();
  // DeleteObjects takes at most 1000 keys per request.
  for (let i = 0; i < thumbnails.length; i += 1000) {
    const chunk = thumbnails.slice(i, i + 1000);
    const result = await clients.s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }),
    );
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      throw new Error(`Could not delete thumbnails: ${failed.map((e) => `${e.Key} (${e.Code})`).join(", ")}`);
    }
  }

  await clients.doc.send(new DeleteCommand({ TableName: config.names.table, Key: { imageId: item.imageId } }));
  return { imageId: item.imageId, original: { bucket: item.bucket, key: item.key }, thumbnails };
}

export type ReprocessOutcome =
  | { imageId: string; key: string; result: "queued"; messageId: string }
  | { imageId: string; key: string; result: "missing"; reason: string };

/**
 * Puts each image back on the upload queue, so that the worker (or Lambda) processes it again
 * with today's code and THUMBNAIL_SIZES, and writes its item again.
 *
 * While the object is still the version the item describes (same eTag), the message is
 * that upload's S3 event, marked as a reprocess request (configurationId `reprocess`): it
 * carries the item's own sequencer and upload time, so the write keeps the image's place in
 * the upload-date index and still loses to a newer upload of the same key, exactly as the
 * original event would. If the object changed since, the message is a plain
 * `{bucket_name, image_key}`: the worker orders it after what is recorded (see ordering.ts).
 */
export async function reprocessImages(
  config: Config,
  clients: Clients,
  items: ImageItem[],
): Promise<ReprocessOutcome[]> {
  const url = await queueUrl(clients, config.names.queue);
  if (!url) throw new MissingResourceError(`Queue ${config.names.queue} does not exist: run \`npm run bootstrap\``);

  const checked = await Promise.all(
    items.map(async (item) => {
      try {
        const head = await clients.s3.send(new HeadObjectCommand({ Bucket: item.bucket, Key: item.key }));
        const eTag = head.ETag ? stripQuotes(head.ETag) : undefined;
        const event =
          eTag && eTag === item.eTag
            ? reprocessEvent(config, item, head.ContentLength, eTag)
            : { bucket_name: item.bucket, image_key: item.key };
        return { item, event };
      } catch (error) {
        if (!isNotFound(error)) throw error;
        return { item, event: undefined };
      }
    }),
  );

  const outcomes: ReprocessOutcome[] = [];
  for (const { item, event } of checked) {
    if (!event) {
      outcomes.push({
        imageId: item.imageId,
        key: item.key,
        result: "missing",
        reason: `the original s3://${item.bucket}/${item.key} no longer exists`,
      });
    }
  }
  const toSend = checked.filter((c) => c.event !== undefined);
  // SendMessageBatch takes at most 10 messages.
  for (let i = 0; i < toSend.length; i += 10) {
    const chunk = toSend.slice(i, i + 10);
    const result = await clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: chunk.map((c, j) => ({ Id: String(j), MessageBody: JSON.stringify(c.event) })),
      }),
    );
    const failed = result.Failed ?? [];
    if (failed.length > 0) {
      throw new Error(`The queue refused ${failed.length} message(s): ${failed[0]?.Message ?? failed[0]?.Code}`);
    }
    for (const sent of result.Successful ?? []) {
      const { item } = chunk[Number(sent.Id)] as (typeof chunk)[number];
      outcomes.push({ imageId: item.imageId, key: item.key, result: "queued", messageId: sent.MessageId ?? "" });
    }
  }
  return outcomes;
}

function reprocessEvent(config: Config, item: ImageItem, size: number | undefined, eTag: string): S3Event {
  return s3EventMessage({
    bucket: item.bucket,
    key: item.key,
    eventName: "ObjectCreated:Put",
    eventTime: item.uploadDate,
    region: config.region,
    // If the object is replaced before the worker reads it, the worker skips this message
    // and the new upload's own event wins.
    object: { size: size ?? item.bytes ?? 0, eTag, sequencer: item.sequencer },
    configurationId: REPROCESS_CONFIGURATION_ID,
    // Not S3's: says in the queue and the DLQ where this message came from.
    principalId: "npm run images reprocess",
    ownerId: "",
    requestId: "",
    hostId: "",
  });
}

/** Every FAILED image, through the upload-date index with a status filter (no Scan). */
export function failedImages(config: Config, clients: Clients): Promise<ImageItem[]> {
  return allImages(config, clients, { status: ImageStatus.Failed });
}
