import { createHash, randomBytes } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, type PutCommandInput, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Clients } from "../aws/clients.ts";
import type { ResourceNames } from "../config.ts";
import type { Capture } from "../pipeline/capture.ts";

/**
 * DELETED is a tombstone: the original is gone, and the item only remembers the delete's
 * sequencer so that an older create event arriving late cannot bring the image back. It has
 * no listShard, so the upload-date index (and every list, count and gallery page) leaves it out.
 */
export const ImageStatus = { Processed: "PROCESSED", Failed: "FAILED", Deleted: "DELETED" } as const;
export type ImageStatus = (typeof ImageStatus)[keyof typeof ImageStatus];

/** The statuses an image in the upload-date index can have: what lists filter on. */
export const LISTED_STATUSES = [ImageStatus.Processed, ImageStatus.Failed] as const;
export type ListedStatus = (typeof LISTED_STATUSES)[number];

/** How long a tombstone is kept (DynamoDB TTL, where the backend has one; `images reconcile` elsewhere). */
export const TOMBSTONE_TTL_SECONDS = 14 * 24 * 3600;

/**
 * The upload-date index is spread over a few partitions so that no single partition key
 * takes every write; listing merges them (see query.ts).
 */
export const LIST_SHARDS = 4;

export interface ThumbnailRecord {
  size: number;
  /** `{imageId}/{version}/{size}.{ext}`: every version of an image has its own keys. */
  key: string;
  width: number;
  height: number;
  bytes: number;
  /** Per thumbnail: WebP where the image has transparency and THUMBNAIL_FORMAT is jpeg. */
  format: string;
  /** Content-Type of the thumbnail object (formats may differ per thumbnail). */
  contentType?: string;
}

export interface ImageItem {
  imageId: string;
  bucket: string;
  key: string;
  /** The file name: the key without the upload prefix. */
  name: string;
  status: ImageStatus;
  /** Content-Type the uploader sent; `format` is what the bytes really are. */
  contentType?: string;
  format?: string;
  width?: number;
  height?: number;
  bytes?: number;
  eTag?: string;
  /** S3's sequencer, right-padded: newer uploads of a key compare greater. */
  sequencer: string;
  thumbnails?: ThumbnailRecord[];
  dominantColor?: string;
  /** Some pixels are transparent: the thumbnails keep the alpha channel. */
  transparent?: boolean;
  /**
   * When the photo was taken (EXIF DateTimeOriginal, with OffsetTimeOriginal when present), ISO
   * 8601. Top-level: it is the sort key of the sparse byTakenDate index (absent → not in it).
   */
  takenAt?: string;
  /** Camera, lens and exposure from EXIF (see Capture); coordinates only with RECORD_GPS=true. */
  capture?: Omit<Capture, "takenAt">;
  /** ISO time of the upload (S3's event time or the object's Last-Modified). */
  uploadDate: string;
  /** Partition key of the upload-date index ("0".."3"); absent on a tombstone (DELETED). */
  listShard?: string;
  processedAt: string;
  processingMs: number;
  errorCode?: string;
  /** One line for people: "The PNG's data is corrupt (checksum mismatch)". */
  errorMessage?: string;
  /** The decoder's own messages, de-duplicated, for debugging. */
  errorDetail?: string;
  /** DELETED only: the delete's event time, and when DynamoDB's TTL may remove the tombstone (epoch seconds). */
  deletedAt?: string;
  expiresAt?: number;
}

/** Deterministic: a redelivered event for the same object updates the same item. */
export function imageIdFor(bucket: string, key: string): string {
  return createHash("sha256").update(`${bucket}\0${key}`).digest("hex").slice(0, 32);
}

export function listShardFor(imageId: string): string {
  return String(Number.parseInt(imageId.slice(0, 8), 16) % LIST_SHARDS);
}

/** "written" with the item it replaced (if any), or "stale": a newer event is recorded. */
export type WriteOutcome = { result: "written"; replaced: ImageItem | undefined } | { result: "stale" };

/**
 * Writes the item (or tombstone) unless an event with a greater sequencer is recorded: an
 * old event arriving late never wins, and the same event again (redelivery, reprocessing)
 * writes the same version again. The condition is the whole guarantee: the handler's own
 * read before it only saves work. Returns the replaced item so that the caller can remove
 * the thumbnails of the version that just lost its place.
 */
export async function putImageItem(clients: Clients, names: ResourceNames, item: ImageItem): Promise<WriteOutcome> {
  const input = {
    TableName: names.table,
    Item: item,
    ConditionExpression: "attribute_not_exists(imageId) OR sequencer <= :seq",
    ExpressionAttributeValues: { ":seq": item.sequencer },
    ReturnValues: "ALL_OLD",
  } satisfies PutCommandInput;
  try {
    const result = await clients.doc.send(new PutCommand(input));
    return { result: "written", replaced: result.Attributes as ImageItem | undefined };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return { result: "stale" };
    throw error;
  }
}

/**
 * Takes a newer sequencer and event time for the version the item already describes (same
 * eTag), without processing it again: the S3 event that follows a plain message for the same
 * upload, or a re-upload of identical bytes. Returns false if the item changed meanwhile.
 */
export async function adoptSequencer(
  clients: Clients,
  names: ResourceNames,
  update: { imageId: string; eTag: string; sequencer: string; uploadDate: string },
): Promise<boolean> {
  try {
    await clients.doc.send(
      new UpdateCommand({
        TableName: names.table,
        Key: { imageId: update.imageId },
        UpdateExpression: "SET sequencer = :seq, uploadDate = :date",
        ConditionExpression: "eTag = :etag AND sequencer < :seq AND #status <> :deleted",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":seq": update.sequencer,
          ":date": update.uploadDate,
          ":etag": update.eTag,
          ":deleted": ImageStatus.Deleted,
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

export async function getImageItem(
  clients: Clients,
  names: ResourceNames,
  imageId: string,
): Promise<ImageItem | undefined> {
  const result = await clients.doc.send(
    new GetCommand({ TableName: names.table, Key: { imageId }, ConsistentRead: true }),
  );
  return result.Item as ImageItem | undefined;
}

/** Random bytes in a gallery upload's folder: 80 bits, so a ticket can only ever create a new object. */
const TICKET_ID_BYTES = 10;
/** `uploads/<ticket id>/`: 10 random bytes in base64url are 14 characters. */
const TICKET_FOLDER = /^[A-Za-z0-9_-]{14}\//;

/**
 * The key a gallery upload ticket pins: `<uploadPrefix><ticket id>/<name>`, the ticket id 80 random
 * bits in base64url (14 characters). `name` must already be a clean last segment (no `/`).
 */
export function ticketKey(uploadPrefix: string, name: string): string {
  return `${uploadPrefix}${randomBytes(TICKET_ID_BYTES).toString("base64url")}/${name}`;
}

/**
 * The file name an item shows: the key after the upload prefix, without the ticket folder the
 * gallery adds (see ticketKey). Any other folders are part of the name, as the uploader chose them
 * (`aws s3 cp x.jpg s3://…/uploads/2026/x.jpg` shows "2026/x.jpg").
 */
export function fileNameOf(key: string, uploadPrefix: string): string {
  const rest = key.startsWith(uploadPrefix) ? key.slice(uploadPrefix.length) : key;
  return rest.replace(TICKET_FOLDER, "") || rest;
}
