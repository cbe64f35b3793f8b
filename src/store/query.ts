import { paginateQuery, QueryCommand, type QueryCommandInput, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { Clients } from "../aws/clients.ts";
import type { Config } from "../config.ts";
import {
  getImageItem,
  type ImageItem,
  ImageStatus,
  imageIdFor,
  LIST_SHARDS,
  type ListedStatus,
  listShardFor,
} from "./metadata.ts";

export interface ListOptions {
  /** ISO date or date-time, inclusive. */
  since?: string;
  /** ISO date or date-time, inclusive (a bare date means the whole day). */
  until?: string;
  status?: ListedStatus;
  limit: number;
  cursor?: string;
}

export interface ListPage {
  items: ImageItem[];
  /** Opaque; pass it back for the next page. Absent on the last page. */
  nextCursor?: string;
  /** Items DynamoDB read for this page (a status filter reads more than it returns). */
  scannedCount: number;
}

export class InvalidQueryError extends Error {
  override name = "InvalidQueryError";
}

/** A list cursor that this code did not hand out (tampered, truncated, or for other filters). */
export class BadCursorError extends InvalidQueryError {
  override name = "BadCursorError";
  constructor(message = "cursor is not valid: use the nextCursor of the previous page, with the same filters") {
    super(message);
  }
}

type ShardKey = { imageId: string; listShard: string; uploadDate: string };
/** Per shard: where to resume (after this key), or null when the shard is exhausted. */
type Cursor = Record<string, ShardKey | null | "start">;

export const MAX_PAGE_SIZE = 100;

/**
 * Newest first, through the upload-date index; never a Scan. The index is spread over
 * LIST_SHARDS partition keys, so each page queries every shard and merges them by date.
 */
export async function listImages(config: Config, clients: Clients, options: ListOptions): Promise<ListPage> {
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_PAGE_SIZE) {
    throw new InvalidQueryError(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  const range = dateRange(options.since, options.until);
  const cursor = options.cursor ? decodeCursor(options.cursor, range) : undefined;
  const shards = Array.from({ length: LIST_SHARDS }, (_, i) => String(i));
  let scannedCount = 0;

  const buffers = await Promise.all(
    shards.map(async (shard) => {
      const position = cursor ? cursor[shard] : "start";
      if (position === null || position === undefined) return { shard, items: [] as ImageItem[], more: false };
      const items: ImageItem[] = [];
      let startKey: ShardKey | undefined = position === "start" ? undefined : position;
      let more = true;
      // Read until this shard alone could fill the page, or it runs out.
      while (items.length < options.limit && more) {
        const input: QueryCommandInput = {
          TableName: config.names.table,
          IndexName: config.names.uploadDateIndex,
          ScanIndexForward: false,
          Limit: options.limit,
          ExclusiveStartKey: startKey,
          ...keyCondition(shard, range),
          ...(options.status && {
            FilterExpression: "#status = :status",
            ExpressionAttributeNames: { "#status": "status" },
          }),
        };
        if (options.status)
          input.ExpressionAttributeValues = { ...input.ExpressionAttributeValues, ":status": options.status };
        const page = await clients.doc.send(new QueryCommand(input)).catch((error: unknown) => {
          // A start key DynamoDB refuses can only come from a cursor we did not write.
          if (startKey && (error as { name?: string }).name === "ValidationException") throw new BadCursorError();
          throw error;
        });
        scannedCount += page.ScannedCount ?? 0;
        items.push(...((page.Items ?? []) as ImageItem[]));
        startKey = page.LastEvaluatedKey as ShardKey | undefined;
        more = startKey !== undefined;
      }
      return { shard, items, more };
    }),
  );

  const items: ImageItem[] = [];
  const consumed = new Map<string, number>();
  while (items.length < options.limit) {
    let best: (typeof buffers)[number] | undefined;
    for (const buffer of buffers) {
      const head = buffer.items[consumed.get(buffer.shard) ?? 0];
      if (!head) continue;
      const bestHead = best?.items[consumed.get(best.shard) ?? 0];
      if (!bestHead || newer(head, bestHead)) best = buffer;
    }
    if (!best) break;
    const index = consumed.get(best.shard) ?? 0;
    items.push(best.items[index] as ImageItem);
    consumed.set(best.shard, index + 1);
  }

  const next: Cursor = {};
  let anyLeft = false;
  for (const buffer of buffers) {
    const used = consumed.get(buffer.shard) ?? 0;
    const leftInBuffer = buffer.items.length - used;
    if (leftInBuffer === 0 && !buffer.more) {
      next[buffer.shard] = null;
      continue;
    }
    anyLeft = true;
    const last = used > 0 ? buffer.items[used - 1] : undefined;
    next[buffer.shard] = last ? shardKey(last) : cursor ? (cursor[buffer.shard] ?? "start") : "start";
  }
  return { items, scannedCount, ...(anyLeft && { nextCursor: encodeCursor(next) }) };
}

function newer(a: ImageItem, b: ImageItem): boolean {
  return a.uploadDate !== b.uploadDate ? a.uploadDate > b.uploadDate : a.imageId > b.imageId;
}

function shardKey(item: ImageItem): ShardKey {
  // Items read from the index always have a listShard (tombstones have none and are not in it).
  return {
    imageId: item.imageId,
    listShard: item.listShard ?? listShardFor(item.imageId),
    uploadDate: item.uploadDate,
  };
}

function keyCondition(shard: string, range: { from?: string; to?: string }) {
  const values: Record<string, string> = { ":shard": shard };
  let expression = "listShard = :shard";
  if (range.from && range.to) {
    expression += " AND uploadDate BETWEEN :from AND :to";
    Object.assign(values, { ":from": range.from, ":to": range.to });
  } else if (range.from) {
    expression += " AND uploadDate >= :from";
    values[":from"] = range.from;
  } else if (range.to) {
    expression += " AND uploadDate <= :to";
    values[":to"] = range.to;
  }
  return { KeyConditionExpression: expression, ExpressionAttributeValues: values };
}

/** Accepts YYYY-MM-DD or a full ISO date-time; a bare `until` date covers that whole day. */
export function dateRange(since?: string, until?: string): { from?: string; to?: string } {
  const from = since ? parseDate(since, "since", false) : undefined;
  const to = until ? parseDate(until, "until", true) : undefined;
  if (from && to && from > to) throw new InvalidQueryError("since must not be after until");
  return { ...(from && { from }), ...(to && { to }) };
}

function parseDate(value: string, name: string, endOfDay: boolean): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const date = new Date(`${value}T00:00:00.000Z`);
    if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
      throw new InvalidQueryError(`${name} is not a valid date: ${value}`);
    }
    return endOfDay ? `${value}T23:59:59.999Z` : date.toISOString();
  }
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidQueryError(`${name} must be YYYY-MM-DD or an ISO date-time, not "${value}"`);
  }
  return date.toISOString();
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

const IMAGE_ID = /^[0-9a-f]{32}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** The cursor of encodeCursor, checked field by field: anything else is a BadCursorError. */
function decodeCursor(text: string, range: { from?: string; to?: string }): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw new BadCursorError();
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new BadCursorError();
  const cursor: Cursor = {};
  for (let i = 0; i < LIST_SHARDS; i++) {
    const entry = (parsed as Record<string, unknown>)[String(i)];
    if (entry === null || entry === "start") {
      cursor[String(i)] = entry;
      continue;
    }
    const { imageId, listShard, uploadDate } = (entry ?? {}) as Partial<Record<keyof ShardKey, unknown>>;
    if (
      typeof imageId !== "string" ||
      !IMAGE_ID.test(imageId) ||
      listShard !== String(i) ||
      typeof uploadDate !== "string" ||
      !ISO_INSTANT.test(uploadDate) ||
      // DynamoDB refuses a start key outside the key condition: it belongs to other filters.
      (range.from !== undefined && uploadDate < range.from) ||
      (range.to !== undefined && uploadDate > range.to)
    ) {
      throw new BadCursorError();
    }
    cursor[String(i)] = { imageId, listShard, uploadDate };
  }
  return cursor;
}

export type StatusCounts = Record<ListedStatus, number> & { total: number };

/** Every image matching the filters, a full page at a time; at most `maxPages` pages. */
export async function allImages(
  config: Config,
  clients: Clients,
  filters: Omit<ListOptions, "limit" | "cursor"> = {},
  maxPages = Number.POSITIVE_INFINITY,
): Promise<ImageItem[]> {
  const items: ImageItem[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const result = await listImages(config, clients, { ...filters, limit: MAX_PAGE_SIZE, ...(cursor && { cursor }) });
    items.push(...result.items);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return items;
}

/**
 * How many images there are in each status, through the upload-date index (never a Scan).
 * Reads only the status attribute, but still every index entry: fine for a gallery's
 * header, too slow for millions of images (then keep counters on write instead).
 */
export async function countImages(config: Config, clients: Clients): Promise<StatusCounts> {
  const counts: StatusCounts = { PROCESSED: 0, FAILED: 0, total: 0 };
  await Promise.all(
    Array.from({ length: LIST_SHARDS }, async (_, shard) => {
      const pages = paginateQuery(
        { client: clients.doc },
        {
          TableName: config.names.table,
          IndexName: config.names.uploadDateIndex,
          KeyConditionExpression: "listShard = :shard",
          ExpressionAttributeValues: { ":shard": String(shard) },
          ProjectionExpression: "#status",
          ExpressionAttributeNames: { "#status": "status" },
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          const status = item.status as ListedStatus;
          if (status in counts) counts[status]++;
          counts.total++;
        }
      }
    }),
  );
  return counts;
}

/**
 * An image by its id (32 hex characters) or by its key, with or without the upload prefix.
 * A tombstone (DELETED: the original is gone) counts as no image unless `includeDeleted`.
 */
export async function findImage(
  config: Config,
  clients: Clients,
  idOrKey: string,
  options: { includeDeleted?: boolean } = {},
): Promise<ImageItem | undefined> {
  const visible = (item: ImageItem | undefined) =>
    item && (options.includeDeleted || item.status !== ImageStatus.Deleted) ? item : undefined;
  if (/^[0-9a-f]{32}$/.test(idOrKey)) {
    const byId = visible(await getImageItem(clients, config.names, idOrKey));
    if (byId) return byId;
  }
  const bucket = config.names.uploadsBucket;
  const direct = visible(await getImageItem(clients, config.names, imageIdFor(bucket, idOrKey)));
  if (direct || idOrKey.startsWith(config.uploadPrefix)) return direct;
  return visible(await getImageItem(clients, config.names, imageIdFor(bucket, `${config.uploadPrefix}${idOrKey}`)));
}

export interface ScanOptions {
  /** Matches a name that starts with it, or a key or imageId that contains it (case-sensitive). */
  text: string;
  /** Stop reading once this many items matched. */
  limit: number;
  /** Also match tombstones (DELETED: the original is gone); left out by default. */
  includeDeleted?: boolean;
}

export interface ScanResult {
  /** Name-prefix matches first, then the rest; newest first within each. */
  items: ImageItem[];
  /** Items DynamoDB read: the whole table unless `complete` is false. */
  scannedCount: number;
  /** Matches among the items read; more than `items.length` when the limit cut them. */
  matchedCount: number;
  /** False when the scan stopped before the end of the table because `limit` items matched. */
  complete: boolean;
}

/**
 * A Scan with a filter: reads every item of the table, so it costs as much as the table is
 * large. Only for questions no key or index can answer, such as a substring of a key;
 * callers should say that a Scan was used and how many items it read.
 */
export async function scanImages(config: Config, clients: Clients, options: ScanOptions): Promise<ScanResult> {
  if (options.text === "") throw new InvalidQueryError("the search text must not be empty");
  if (!Number.isInteger(options.limit) || options.limit < 1) {
    throw new InvalidQueryError("limit must be a whole number of at least 1");
  }
  const items: ImageItem[] = [];
  let scannedCount = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await clients.doc.send(
      new ScanCommand({
        TableName: config.names.table,
        FilterExpression: `(begins_with(#name, :text) OR contains(#key, :text) OR contains(imageId, :text))${
          options.includeDeleted ? "" : " AND #status <> :deleted"
        }`,
        ExpressionAttributeNames: {
          "#name": "name",
          "#key": "key",
          ...(!options.includeDeleted && { "#status": "status" }),
        },
        ExpressionAttributeValues: {
          ":text": options.text,
          ...(!options.includeDeleted && { ":deleted": ImageStatus.Deleted }),
        },
        ExclusiveStartKey: startKey,
      }),
    );
    scannedCount += page.ScannedCount ?? 0;
    items.push(...((page.Items ?? []) as ImageItem[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey && items.length < options.limit);

  const byName = (item: ImageItem) => (item.name.startsWith(options.text) ? 0 : 1);
  items.sort((a, b) => byName(a) - byName(b) || (newer(a, b) ? -1 : 1));
  return {
    items: items.slice(0, options.limit),
    scannedCount,
    matchedCount: items.length,
    complete: startKey === undefined,
  };
}
