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

/**
 * Which date a list is ordered (newest first) and filtered by: "uploaded" (uploadDate, through
 * byUploadDate; every listed image) or "taken" (takenAt, through byTakenDate; only images
 * whose EXIF gives a DateTimeOriginal, since that index is sparse).
 */
export const SORT_ORDERS = ["uploaded", "taken"] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];

export interface ListOptions {
  /** Default "uploaded". */
  sort?: SortOrder;
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

type ShardKey = { imageId: string; listShard: string; uploadDate?: string; takenAt?: string };
/** Per shard: where to resume (after this key), or null when the shard is exhausted. */
type Cursor = Record<string, ShardKey | null | "start">;

export const MAX_PAGE_SIZE = 100;

/**
 * Newest first, through the upload-date index (or, with `sort: "taken"`, the taken-date index);
 * never a Scan. The indexes are spread over LIST_SHARDS partition keys, so each page queries
 * every shard and merges them by date. since/until apply to the date the list is sorted by.
 *
 * takenAt is the camera's clock as EXIF wrote it ("2024-05-01T14:03:22", "+02:00" appended
 * when OffsetTimeOriginal gives one): the taken order and its filter compare that local clock
 * time, not an instant, since most files carry no offset.
 *
 * @throws InvalidQueryError for a bad limit, date or sort; BadCursorError for a foreign cursor.
 */
export async function listImages(config: Config, clients: Clients, options: ListOptions): Promise<ListPage> {
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_PAGE_SIZE) {
    throw new InvalidQueryError(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  const sort = options.sort ?? "uploaded";
  if (!SORT_ORDERS.includes(sort)) {
    throw new InvalidQueryError(`sort must be ${SORT_ORDERS.join(" or ")}, not "${String(sort)}"`);
  }
  const attribute = SORT_ATTRIBUTE[sort];
  const range =
    sort === "taken" ? wallClockRange(options.since, options.until) : dateRange(options.since, options.until);
  const cursor = options.cursor ? decodeCursor(options.cursor, range, attribute) : undefined;
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
          IndexName: sort === "taken" ? config.names.takenDateIndex : config.names.uploadDateIndex,
          ScanIndexForward: false,
          Limit: options.limit,
          ExclusiveStartKey: startKey,
          ...keyCondition(shard, range, attribute),
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
          if (sort === "taken" && isMissingIndex(error)) {
            throw new MissingIndexError(
              `the table has no ${config.names.takenDateIndex} index yet: run \`npm run bootstrap\` (see its report)`,
            );
          }
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
      if (!bestHead || newer(head, bestHead, attribute)) best = buffer;
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
    next[buffer.shard] = last ? shardKey(last, attribute) : cursor ? (cursor[buffer.shard] ?? "start") : "start";
  }
  return { items, scannedCount, ...(anyLeft && { nextCursor: encodeCursor(next) }) };
}

/** The index sort key of each order. */
const SORT_ATTRIBUTE = { uploaded: "uploadDate", taken: "takenAt" } as const;
type SortAttribute = (typeof SORT_ATTRIBUTE)[SortOrder];

/** The table lacks the index asked for (a table from before it existed, on a backend that could not add it). */
export class MissingIndexError extends Error {
  override name = "MissingIndexError";
}

function isMissingIndex(error: unknown): boolean {
  const { name, message } = error as { name?: string; message?: string };
  return name === "ValidationException" && /specified index/i.test(message ?? "");
}

/** Ordered as DynamoDB orders the index: by the sort key (string order), then by imageId. */
function newer(a: ImageItem, b: ImageItem, attribute: SortAttribute = "uploadDate"): boolean {
  const x = a[attribute] ?? "";
  const y = b[attribute] ?? "";
  return x !== y ? x > y : a.imageId > b.imageId;
}

function shardKey(item: ImageItem, attribute: SortAttribute): ShardKey {
  // Items read from the index always have a listShard (tombstones have none and are not in it).
  return {
    imageId: item.imageId,
    listShard: item.listShard ?? listShardFor(item.imageId),
    [attribute]: item[attribute],
  };
}

function keyCondition(shard: string, range: { from?: string; to?: string }, attribute: SortAttribute) {
  const values: Record<string, string> = { ":shard": shard };
  let expression = "listShard = :shard";
  if (range.from && range.to) {
    expression += ` AND ${attribute} BETWEEN :from AND :to`;
    Object.assign(values, { ":from": range.from, ":to": range.to });
  } else if (range.from) {
    expression += ` AND ${attribute} >= :from`;
    values[":from"] = range.from;
  } else if (range.to) {
    expression += ` AND ${attribute} <= :to`;
    values[":to"] = range.to;
  }
  return { KeyConditionExpression: expression, ExpressionAttributeValues: values };
}

/**
 * since/until for the taken order, as local clock times comparable with takenAt strings:
 * "2024-05-01" from "2024-05-01T00:00:00"; a bare `until` date up to the end of that day,
 * whatever offset follows the time ("~" sorts after "+", "-" and digits). A date-time is
 * taken as written, its offset dropped.
 */
export function wallClockRange(since?: string, until?: string): { from?: string; to?: string } {
  dateRange(since, until); // the same validation and messages as the upload order
  const clock = (value: string, endOfDay: boolean) => {
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return endOfDay ? `${value}T23:59:59~` : `${value}T00:00:00`;
    const [, minutes = "", seconds = ":00"] = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?/.exec(value) ?? [];
    return endOfDay ? `${minutes}${seconds}~` : `${minutes}${seconds}`;
  };
  return { ...(since && { from: clock(since, false) }), ...(until && { to: clock(until, true) }) };
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
/** As capture.ts writes takenAt: local time, with an offset when EXIF gives one. */
const TAKEN_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2})?$/;

/** The cursor of encodeCursor, checked field by field: anything else is a BadCursorError. */
function decodeCursor(text: string, range: { from?: string; to?: string }, attribute: SortAttribute): Cursor {
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
    const fields = (entry ?? {}) as Partial<Record<keyof ShardKey, unknown>>;
    const { imageId, listShard } = fields;
    const date = fields[attribute];
    const other = attribute === "uploadDate" ? "takenAt" : "uploadDate";
    if (
      typeof imageId !== "string" ||
      !IMAGE_ID.test(imageId) ||
      listShard !== String(i) ||
      typeof date !== "string" ||
      !(attribute === "uploadDate" ? ISO_INSTANT : TAKEN_AT).test(date) ||
      // A cursor of the other order.
      fields[other] !== undefined ||
      // DynamoDB refuses a start key outside the key condition: it belongs to other filters.
      (range.from !== undefined && date < range.from) ||
      (range.to !== undefined && date > range.to)
    ) {
      throw new BadCursorError();
    }
    cursor[String(i)] = { imageId, listShard, [attribute]: date };
  }
  return cursor;
}

/** `withoutTakenDate`: listed images with no takenAt, which the taken-date order leaves out. */
export type StatusCounts = Record<ListedStatus, number> & { total: number; withoutTakenDate: number };

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
  const counts: StatusCounts = { PROCESSED: 0, FAILED: 0, total: 0, withoutTakenDate: 0 };
  await Promise.all(
    Array.from({ length: LIST_SHARDS }, async (_, shard) => {
      const pages = paginateQuery(
        { client: clients.doc },
        {
          TableName: config.names.table,
          IndexName: config.names.uploadDateIndex,
          KeyConditionExpression: "listShard = :shard",
          ExpressionAttributeValues: { ":shard": String(shard) },
          ProjectionExpression: "#status, takenAt",
          ExpressionAttributeNames: { "#status": "status" },
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          const status = item.status as ListedStatus;
          if (status in counts) counts[status]++;
          if (typeof item.takenAt !== "string") counts.withoutTakenDate++;
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
  items.sort((a, b) => byName(a) - byName(b) || (newer(a, b, "uploadDate") ? -1 : 1));
  return {
    items: items.slice(0, options.limit),
    scannedCount,
    matchedCount: items.length,
    complete: startKey === undefined,
  };
}
