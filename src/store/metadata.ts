import { createHash } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, type PutCommandInput } from "@aws-sdk/lib-dynamodb";
import type { Clients } from "../aws/clients.ts";
import type { ResourceNames } from "../config.ts";

export const ImageStatus = { Processed: "PROCESSED", Failed: "FAILED" } as const;
export type ImageStatus = (typeof ImageStatus)[keyof typeof ImageStatus];

/**
 * The upload-date index is spread over a few partitions so that no single partition key
 * takes every write; listing merges them (see query.ts).
 */
export const LIST_SHARDS = 4;

export interface ThumbnailRecord {
  size: number;
  key: string;
  width: number;
  height: number;
  bytes: number;
  format: string;
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
  /** ISO time of the upload (S3's event time or the object's Last-Modified). */
  uploadDate: string;
  /** Partition key of the upload-date index ("0".."3"). */
  listShard: string;
  processedAt: string;
  processingMs: number;
  errorCode?: string;
  errorMessage?: string;
}

/** Deterministic: a redelivered event for the same object updates the same item. */
export function imageIdFor(bucket: string, key: string): string {
  return createHash("sha256").update(`${bucket}\0${key}`).digest("hex").slice(0, 32);
}

export function listShardFor(imageId: string): string {
  return String(Number.parseInt(imageId.slice(0, 8), 16) % LIST_SHARDS);
}

export type WriteOutcome = "written" | "stale";

/**
 * Writes the item unless a newer upload of the same key is already recorded: the
 * condition compares S3 sequencers, so an old event arriving late never wins. Writing the
 * same content again (same eTag) is always allowed: redelivery and reprocessing are
 * idempotent.
 */
export async function putImageItem(clients: Clients, names: ResourceNames, item: ImageItem): Promise<WriteOutcome> {
  const input = {
    TableName: names.table,
    Item: item,
    ConditionExpression: "attribute_not_exists(imageId) OR sequencer <= :seq OR eTag = :etag",
    ExpressionAttributeValues: { ":seq": item.sequencer, ":etag": item.eTag ?? "" },
  } satisfies PutCommandInput;
  try {
    await clients.doc.send(new PutCommand(input));
    return "written";
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return "stale";
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
