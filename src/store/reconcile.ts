// `images reconcile`: brings the table and the thumbnails back in line with the uploads bucket.

import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteObjectsCommand, paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { DeleteCommand, paginateScan } from "@aws-sdk/lib-dynamodb";
import type { Clients } from "../aws/clients.ts";
import { objectExists, queueUrl } from "../aws/lookups.ts";
import type { Config } from "../config.ts";
import { stripQuotes } from "../pipeline/events.ts";
import { isFolderMarker } from "../pipeline/ordering.ts";
import { MissingResourceError } from "./manage.ts";
import { type ImageItem, ImageStatus, imageIdFor } from "./metadata.ts";

export interface ReconcileOptions {
  /** Report what would be done; change nothing. */
  dryRun: boolean;
  /**
   * Orphan thumbnails younger than this (seconds) are left alone: a worker writes an
   * image's thumbnails before its item, so a fresh one may be about to be named.
   */
  graceSeconds: number;
}

/** One difference found, and what was (or, with dryRun, would be) done about it. */
export interface ReconcileAction {
  action: "queued" | "removed-item" | "deleted-thumbnail" | "removed-tombstone" | "left-recent-thumbnail";
  /** The upload's key, or the thumbnail's key. */
  key: string;
  reason: string;
}

export interface ReconcileReport {
  dryRun: boolean;
  listed: { objects: number; items: number; thumbnails: number };
  actions: ReconcileAction[];
  counts: Record<ReconcileAction["action"], number>;
}

interface ListedObject {
  key: string;
  eTag: string;
  lastModified: Date | undefined;
}

/**
 * Lists the uploads (under UPLOAD_PREFIX), the table (a Scan: reconcile must see every item,
 * tombstones included, and the index leaves tombstones out) and the thumbnails bucket, then:
 * - an object without an item, with a tombstone, or with an item for another eTag is queued
 *   as a plain message: the worker processes it, ordered as any plain message (ordering.ts);
 * - a PROCESSED or FAILED item whose object is gone is removed with its thumbnails (checked
 *   once more with HeadObject, and removed only if the item did not change meanwhile);
 * - a tombstone past its expiresAt is removed (what DynamoDB's TTL does where it exists);
 * - a thumbnail object no item names is deleted, unless younger than `graceSeconds`.
 * Everything is idempotent: running it twice in a row finds nothing the second time.
 */
export async function reconcile(config: Config, clients: Clients, options: ReconcileOptions): Promise<ReconcileReport> {
  const { names } = config;
  const [objects, items, thumbnails] = await Promise.all([
    listObjects(clients.s3, names.uploadsBucket, config.uploadPrefix),
    scanItems(config, clients),
    listObjects(clients.s3, names.thumbnailsBucket, ""),
  ]);
  const uploads = objects.filter((o) => !isFolderMarker(o.key, config.uploadPrefix));
  const byId = new Map(items.map((item) => [item.imageId, item]));
  const actions: ReconcileAction[] = [];

  // Objects the table does not describe.
  const toQueue: string[] = [];
  for (const object of uploads) {
    const item = byId.get(imageIdFor(names.uploadsBucket, object.key));
    const reason = !item
      ? "no item"
      : item.status === ImageStatus.Deleted
        ? "a tombstone, but the object exists"
        : item.eTag !== object.eTag
          ? `the item describes eTag ${item.eTag ?? "(none)"}, the object is ${object.eTag}`
          : undefined;
    if (!reason) continue;
    toQueue.push(object.key);
    actions.push({ action: "queued", key: object.key, reason });
  }

  // Items whose object is gone, and expired tombstones.
  const present = new Set(uploads.map((o) => o.key));
  const now = Math.floor(Date.now() / 1000);
  const removedThumbnails = new Set<string>();
  for (const item of items) {
    if (item.bucket !== names.uploadsBucket || !item.key.startsWith(config.uploadPrefix)) continue;
    if (item.status === ImageStatus.Deleted) {
      if (item.expiresAt !== undefined && item.expiresAt < now) {
        if (options.dryRun || (await removeItem(config, clients, item))) {
          actions.push({ action: "removed-tombstone", key: item.key, reason: "expired" });
        }
      }
      continue;
    }
    if (present.has(item.key)) continue;
    if (!options.dryRun && (await objectExists(clients.s3, item.bucket, item.key))) continue;
    if (!options.dryRun && !(await removeItem(config, clients, item))) continue;
    for (const thumb of item.thumbnails ?? []) removedThumbnails.add(thumb.key);
    actions.push({
      action: "removed-item",
      key: item.key,
      reason: `the original is gone (${item.status}, ${item.thumbnails?.length ?? 0} thumbnail(s))`,
    });
  }

  // Thumbnails no item names (a removed item's are kept if a remaining item names them too).
  const removedKeys = new Set(actions.filter((a) => a.action === "removed-item").map((a) => a.key));
  const named = new Set<string>();
  for (const item of items) {
    if (item.status === ImageStatus.Deleted || removedKeys.has(item.key)) continue;
    for (const thumb of item.thumbnails ?? []) named.add(thumb.key);
  }
  for (const key of named) removedThumbnails.delete(key);
  const cutoff = Date.now() - options.graceSeconds * 1000;
  const toDelete: string[] = [...removedThumbnails];
  for (const thumb of thumbnails) {
    if (named.has(thumb.key) || removedThumbnails.has(thumb.key)) continue;
    if (thumb.lastModified && thumb.lastModified.getTime() > cutoff) {
      actions.push({
        action: "left-recent-thumbnail",
        key: thumb.key,
        reason: `no item names it, but it is younger than ${options.graceSeconds} s`,
      });
      continue;
    }
    toDelete.push(thumb.key);
    actions.push({ action: "deleted-thumbnail", key: thumb.key, reason: "no item names it" });
  }
  for (const key of removedThumbnails) {
    actions.push({ action: "deleted-thumbnail", key, reason: "its item was removed (original gone)" });
  }

  if (!options.dryRun) {
    await deleteObjects(clients.s3, names.thumbnailsBucket, toDelete);
    await queuePlainMessages(config, clients, toQueue);
  }

  const counts: ReconcileReport["counts"] = {
    queued: 0,
    "removed-item": 0,
    "deleted-thumbnail": 0,
    "removed-tombstone": 0,
    "left-recent-thumbnail": 0,
  };
  for (const a of actions) counts[a.action]++;
  return {
    dryRun: options.dryRun,
    listed: { objects: uploads.length, items: items.length, thumbnails: thumbnails.length },
    actions,
    counts,
  };
}

async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const object of page.Contents ?? []) {
      if (!object.Key) continue;
      out.push({ key: object.Key, eTag: stripQuotes(object.ETag ?? ""), lastModified: object.LastModified });
    }
  }
  return out;
}

async function scanItems(config: Config, clients: Clients): Promise<ImageItem[]> {
  const out: ImageItem[] = [];
  for await (const page of paginateScan({ client: clients.doc }, { TableName: config.names.table })) {
    out.push(...((page.Items ?? []) as ImageItem[]));
  }
  return out;
}

/** Deletes the item unless an event changed it since the scan (its sequencer moved on). */
async function removeItem(config: Config, clients: Clients, item: ImageItem): Promise<boolean> {
  try {
    await clients.doc.send(
      new DeleteCommand({
        TableName: config.names.table,
        Key: { imageId: item.imageId },
        ConditionExpression: "sequencer = :seq",
        ExpressionAttributeValues: { ":seq": item.sequencer },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

async function deleteObjects(s3: S3Client, bucket: string, keys: string[]): Promise<void> {
  // DeleteObjects takes at most 1000 keys per request.
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    const result = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }),
    );
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      throw new Error(`Could not delete thumbnails: ${failed.map((e) => `${e.Key} (${e.Code})`).join(", ")}`);
    }
  }
}

/** The original project's message: the worker reads eTag and Last-Modified itself (HeadObject). */
async function queuePlainMessages(config: Config, clients: Clients, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const url = await queueUrl(clients, config.names.queue);
  if (!url) throw new MissingResourceError(`Queue ${config.names.queue} does not exist: run \`npm run bootstrap\``);
  // SendMessageBatch takes at most 10 messages.
  for (let i = 0; i < keys.length; i += 10) {
    const chunk = keys.slice(i, i + 10);
    const result = await clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: chunk.map((key, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify({ bucket_name: config.names.uploadsBucket, image_key: key }),
        })),
      }),
    );
    const failed = result.Failed ?? [];
    if (failed.length > 0) {
      throw new Error(`The queue refused ${failed.length} message(s): ${failed[0]?.Message ?? failed[0]?.Code}`);
    }
  }
}
