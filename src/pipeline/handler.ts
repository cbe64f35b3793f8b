import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import pLimit from "p-limit";
import type { Clients } from "../aws/clients.ts";
import { isNotFound } from "../aws/errors.ts";
import type { Config } from "../config.ts";
import { ErrorCode, errorMessage, PermanentError } from "../errors.ts";
import { formatBytes, overLimitFigures } from "../format.ts";
import type { Logger } from "../logger.ts";
import {
  adoptSequencer,
  fileNameOf,
  getImageItem,
  type ImageItem,
  ImageStatus,
  imageIdFor,
  listShardFor,
  putImageItem,
  type ThumbnailRecord,
  TOMBSTONE_TTL_SECONDS,
} from "../store/metadata.ts";
import type { FailureNotifier } from "./alerts.ts";
import type { Capture } from "./capture.ts";
import { isRemoval, normalizeSequencer, type ObjectRef, parseMessageBody, stripQuotes } from "./events.ts";
import { Metric, type MetricsSink, noMetrics } from "./metrics.ts";
import { decideCreate, deleteWins, derivedSequencer, isFolderMarker, versionToken } from "./ordering.ts";
import { EXTENSIONS, makeThumbnails } from "./thumbnails.ts";

export interface HandlerDeps {
  config: Config;
  clients: Clients;
  logger: Logger;
  metrics?: MetricsSink;
  /** Called for each image recorded as FAILED (e.g. publish to SNS where no alarm does). */
  notifyFailure?: FailureNotifier;
}

/** What happened to one object; a thrown error means "retry this message". */
export type ObjectOutcome =
  | { result: "processed"; imageId: string; item: ImageItem }
  | { result: "failed"; imageId: string; item: ImageItem }
  | { result: "deleted"; imageId: string; item: ImageItem }
  | { result: "skipped"; reason: string; imageId?: string };

/**
 * `{imageId}/{version}/{size}.{ext}`, the version being versionToken(sequencer, eTag): each
 * version of an image writes its own keys, so a slow, older processing can never overwrite
 * the thumbnails a newer item points at.
 */
export function thumbnailKey(imageId: string, version: string, size: number, format: keyof typeof EXTENSIONS): string {
  return `${imageId}/${version}/${size}.${EXTENSIONS[format]}`;
}

/** The item's capture fields: takenAt at the top (the byTakenDate index's sort key), the rest in `capture`. */
function captureFields(capture: Capture | undefined): Pick<ImageItem, "takenAt" | "capture"> {
  if (!capture) return {};
  const { takenAt, ...rest } = capture;
  return { ...(takenAt && { takenAt }), capture: rest };
}

/**
 * The per-object unit of work. Permanent problems with the image are recorded on the
 * item as FAILED and return normally; anything else throws so that SQS retries.
 */
export function createObjectProcessor({ config, clients, logger, metrics = noMetrics, notifyFailure }: HandlerDeps) {
  const { names } = config;

  return async function processObject(ref: ObjectRef): Promise<ObjectOutcome> {
    if (ref.bucket === names.thumbnailsBucket) return { result: "skipped", reason: "thumbnail bucket" };
    if (!ref.key.startsWith(config.uploadPrefix)) {
      return { result: "skipped", reason: `key outside ${config.uploadPrefix}` };
    }
    const imageId = imageIdFor(ref.bucket, ref.key);
    const log = logger.child({ imageId, bucket: ref.bucket, key: ref.key });
    if (isFolderMarker(ref.key, config.uploadPrefix)) {
      log.debug("skipped: a folder marker, not an image", { eventName: ref.eventName });
      return { result: "skipped", reason: "folder marker", imageId };
    }
    const recorded = await getImageItem(clients, names, imageId);
    if (isRemoval(ref)) return removeImage(ref, imageId, recorded, log);

    let version = ref;
    if (ref.sequencer === undefined) {
      // A plain message: the object as it is now, ordered just after what the table records.
      const current = await headObject(ref);
      if (!current) return { result: "skipped", reason: "object no longer exists", imageId };
      version = { ...current, sequencer: derivedSequencer(recorded?.sequencer) };
    }
    const sequencer = normalizeSequencer(version.sequencer);
    const decision = decideCreate(recorded, {
      sequencer,
      ...(version.eTag !== undefined && { eTag: version.eTag }),
      ...(version.reprocess && { reprocess: true }),
      ...(ref.sequencer === undefined && { derived: true }),
    });
    if (decision.action === "skip") {
      log.debug("skipped", { reason: decision.reason, sequencer, recorded: recorded?.sequencer });
      return { result: "skipped", reason: decision.reason, imageId };
    }
    if (decision.action === "adopt") {
      const uploadDate = version.eventTime ?? recorded?.uploadDate ?? new Date().toISOString();
      await adoptSequencer(clients, names, { imageId, eTag: version.eTag ?? "", sequencer, uploadDate });
      return { result: "skipped", reason: "this version is recorded already", imageId };
    }
    return processVersion(version, imageId, log);
  };

  async function processVersion(ref: ObjectRef, imageId: string, log: Logger): Promise<ObjectOutcome> {
    const started = performance.now();
    let object: Awaited<ReturnType<typeof fetchObject>>;
    try {
      object = await fetchObject(clients, ref, config.limits.maxBytes);
    } catch (error) {
      if (error instanceof NoSuchKey) return { result: "skipped", reason: "object no longer exists", imageId };
      if (!(error instanceof PermanentError)) throw error;
      return recordFailure(ref, imageId, error, undefined, started, log);
    }
    if (object.kind === "superseded") {
      // A newer upload replaced this object; its own event will bring its content.
      return { result: "skipped", reason: "superseded by a newer upload", imageId };
    }

    let result: Awaited<ReturnType<typeof makeThumbnails>>;
    try {
      result = await makeThumbnails(object.body, {
        sizes: config.thumbnails.sizes,
        format: config.thumbnails.format,
        quality: config.thumbnails.quality,
        maxPixels: config.limits.maxPixels,
        recordGps: config.recordGps,
      });
    } catch (error) {
      if (!(error instanceof PermanentError)) throw error;
      return recordFailure(ref, imageId, error, object, started, log);
    }

    // Thumbnails first, under this version's own keys; the item's conditional put then decides
    // whether they become the image's (and the replaced version's are removed) or are removed.
    const version = versionToken(normalizeSequencer(ref.sequencer), object.eTag ?? ref.eTag);
    const thumbnails: ThumbnailRecord[] = await Promise.all(
      result.thumbnails.map(async (thumb) => {
        const key = thumbnailKey(imageId, version, thumb.size, thumb.format);
        await clients.s3.send(
          new PutObjectCommand({
            Bucket: names.thumbnailsBucket,
            Key: key,
            Body: thumb.data,
            ContentType: thumb.contentType,
            // A key belongs to one version of the image: only a reprocess rewrites it.
            CacheControl: "public, max-age=86400",
          }),
        );
        return {
          size: thumb.size,
          key,
          width: thumb.width,
          height: thumb.height,
          bytes: thumb.bytes,
          format: thumb.format,
          contentType: thumb.contentType,
        };
      }),
    );

    const item: ImageItem = {
      ...baseItem(ref, imageId, object),
      status: ImageStatus.Processed,
      format: result.info.format,
      width: result.info.width,
      height: result.info.height,
      thumbnails,
      dominantColor: result.dominantColor,
      ...(result.transparent && { transparent: true }),
      ...captureFields(result.capture),
      processedAt: new Date().toISOString(),
      processingMs: Math.round(performance.now() - started),
    };
    const outcome = await putImageItem(clients, names, item);
    if (outcome.result === "stale") {
      await removeThumbnails(thumbnailKeys(item), [], log);
      return { result: "skipped", reason: "a newer upload is already recorded", imageId };
    }
    await removeThumbnails(thumbnailKeys(outcome.replaced), thumbnailKeys(item), log);
    log.info("processed", {
      format: item.format,
      width: item.width,
      height: item.height,
      bytes: item.bytes,
      processingMs: item.processingMs,
    });
    metrics({ [Metric.Processed]: 1, [Metric.ProcessingTime]: item.processingMs }, { imageId, key: ref.key });
    return { result: "processed", imageId, item };
  }

  /** The object as HeadObject sees it now, as an ObjectRef without a sequencer; undefined if gone. */
  async function headObject(ref: ObjectRef): Promise<ObjectRef | undefined> {
    try {
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      return {
        ...ref,
        ...(head.ETag && { eTag: stripQuotes(head.ETag) }),
        ...(head.ContentLength !== undefined && { size: head.ContentLength }),
        ...(head.LastModified && { eventTime: head.LastModified.toISOString() }),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * ObjectRemoved: the item becomes a tombstone carrying the delete's sequencer (so that a
   * late, older create event loses), and the removed version's thumbnails go.
   */
  async function removeImage(
    ref: ObjectRef,
    imageId: string,
    recorded: ImageItem | undefined,
    log: Logger,
  ): Promise<ObjectOutcome> {
    const sequencer = normalizeSequencer(ref.sequencer);
    if (!deleteWins(recorded, sequencer)) {
      log.debug("skipped: a newer upload is recorded than this delete", { sequencer, recorded: recorded?.sequencer });
      return { result: "skipped", reason: "a newer upload is recorded", imageId };
    }
    const deletedAt = ref.eventTime ?? new Date().toISOString();
    const tombstone: ImageItem = {
      imageId,
      bucket: ref.bucket,
      key: ref.key,
      name: fileNameOf(ref.key, config.uploadPrefix),
      status: ImageStatus.Deleted,
      sequencer,
      uploadDate: recorded?.uploadDate ?? deletedAt,
      processedAt: new Date().toISOString(),
      processingMs: 0,
      deletedAt,
      expiresAt: Math.floor(Date.now() / 1000) + TOMBSTONE_TTL_SECONDS,
    };
    const outcome = await putImageItem(clients, names, tombstone);
    if (outcome.result === "stale") return { result: "skipped", reason: "a newer upload is recorded", imageId };
    await removeThumbnails(thumbnailKeys(outcome.replaced), [], log);
    if (outcome.replaced && outcome.replaced.status !== ImageStatus.Deleted) log.info("deleted", { sequencer });
    metrics({ [Metric.Deleted]: 1 }, { imageId, key: ref.key });
    return { result: "deleted", imageId, item: tombstone };
  }

  /**
   * Removes thumbnails of a version that lost its place (or never got one), keeping `keep`.
   * Best effort: the item is already right, and a key left behind is never reachable through
   * it; `images reconcile` deletes such orphans.
   */
  async function removeThumbnails(keys: string[], keep: string[], log: Logger): Promise<void> {
    const doomed = keys.filter((key) => !keep.includes(key));
    if (doomed.length === 0) return;
    try {
      const result = await clients.s3.send(
        new DeleteObjectsCommand({
          Bucket: names.thumbnailsBucket,
          Delete: { Objects: doomed.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      if (result.Errors?.length) throw new Error(result.Errors.map((e) => `${e.Key} (${e.Code})`).join(", "));
    } catch (error) {
      log.warn("superseded thumbnails not removed; `images reconcile` will", {
        keys: doomed,
        reason: errorMessage(error),
      });
    }
  }

  function baseItem(ref: ObjectRef, imageId: string, object: FetchedObject | undefined) {
    return {
      imageId,
      bucket: ref.bucket,
      key: ref.key,
      name: fileNameOf(ref.key, config.uploadPrefix),
      contentType: object?.contentType,
      bytes: object?.bytes ?? ref.size,
      eTag: object?.eTag ?? ref.eTag,
      sequencer: normalizeSequencer(ref.sequencer),
      uploadDate: ref.eventTime ?? object?.lastModified ?? new Date().toISOString(),
      listShard: listShardFor(imageId),
    };
  }

  async function recordFailure(
    ref: ObjectRef,
    imageId: string,
    error: PermanentError,
    object: FetchedObject | undefined,
    started: number,
    log: Logger,
  ): Promise<ObjectOutcome> {
    const item: ImageItem = {
      ...baseItem(ref, imageId, object),
      status: ImageStatus.Failed,
      errorCode: error.code,
      errorMessage: error.message,
      ...(error.detail && { errorDetail: error.detail }),
      processedAt: new Date().toISOString(),
      processingMs: Math.round(performance.now() - started),
    };
    const outcome = await putImageItem(clients, names, item);
    if (outcome.result === "stale") return { result: "skipped", reason: "a newer upload is already recorded", imageId };
    // The new version has no thumbnails: the previous version's must not stay behind.
    await removeThumbnails(thumbnailKeys(outcome.replaced), [], log);
    log.warn("failed", { errorCode: error.code, reason: error.message, detail: error.detail });
    metrics({ [Metric.Failed]: 1 }, { imageId, key: ref.key, errorCode: error.code });
    if (notifyFailure) {
      // The failure is recorded; an alert that cannot be sent must not cause a retry.
      await notifyFailure(item).catch((cause: unknown) =>
        log.error("could not publish the failure alert", { reason: errorMessage(cause) }),
      );
    }
    return { result: "failed", imageId, item };
  }
}

function thumbnailKeys(item: ImageItem | undefined): string[] {
  return (item?.thumbnails ?? []).map((t) => t.key);
}

interface FetchedObject {
  kind: "current";
  body: Buffer;
  bytes: number;
  eTag: string | undefined;
  contentType: string | undefined;
  lastModified: string | undefined;
}

async function fetchObject(
  clients: Clients,
  ref: ObjectRef,
  maxBytes: number,
): Promise<FetchedObject | { kind: "superseded" }> {
  const response = await clients.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
  const eTag = response.ETag ? stripQuotes(response.ETag) : undefined;
  const bytes = response.ContentLength ?? 0;
  const body = response.Body;
  if (ref.eTag && eTag && ref.eTag !== eTag) {
    await body?.transformToWebStream().cancel();
    return { kind: "superseded" };
  }
  // Refuse before reading the body: the limit exists so a huge upload costs nothing.
  if (bytes > maxBytes) {
    await body?.transformToWebStream().cancel();
    const [shown, limit] = overLimitFigures(bytes, maxBytes, formatBytes, "bytes");
    throw new PermanentError(ErrorCode.TooLarge, `${shown} is over the limit of ${limit}`);
  }
  if (!body || bytes === 0) throw new PermanentError(ErrorCode.EmptyObject, "The object is empty (0 bytes)");
  const array = await body.transformToByteArray();
  // A view, not a copy: originals are megabytes, and the copy only fed the garbage collector.
  const data = Buffer.from(array.buffer, array.byteOffset, array.byteLength);
  return {
    kind: "current",
    body: data,
    bytes: data.length,
    eTag,
    contentType: response.ContentType,
    lastModified: response.LastModified?.toISOString(),
  };
}

/**
 * The Lambda-shaped handler: every record of the batch is processed independently, and
 * only those that should be retried are reported in batchItemFailures.
 */
export function createHandler(deps: HandlerDeps) {
  const processObject = createObjectProcessor(deps);
  const limit = pLimit(deps.config.worker.concurrency);
  /** Per key, the end of the work queued for it: events of one key run one after the other. */
  const perKey = new Map<string, Promise<unknown>>();

  /**
   * Two messages about one key (an S3 event and a plain message for the same upload, or a
   * redelivery) never run at once in this process: the second then sees what the first
   * recorded and does not make the same thumbnails again. Across processes the conditional
   * writes still keep the result right; only the work may be done twice.
   */
  function oneAtATime(ref: ObjectRef): Promise<ObjectOutcome> {
    const id = `${ref.bucket}/${ref.key}`;
    const run = (perKey.get(id) ?? Promise.resolve()).then(
      () => processObject(ref),
      () => processObject(ref),
    );
    perKey.set(id, run);
    const forget = () => {
      if (perKey.get(id) === run) perKey.delete(id);
    };
    run.then(forget, forget);
    return run;
  }

  async function processRecord(record: SQSRecord): Promise<void> {
    const parsed = parseMessageBody(record.body);
    if (parsed.kind === "ignore") {
      deps.logger.debug("ignored message", { messageId: record.messageId, reason: parsed.reason });
      return;
    }
    for (const ref of parsed.objects) {
      const outcome = await oneAtATime(ref);
      // Every message leaves a trace: a skip says why (a folder marker has its debug line already).
      if (outcome.result === "skipped" && outcome.reason !== "folder marker") {
        deps.logger.info("skipped", {
          messageId: record.messageId,
          bucket: ref.bucket,
          key: ref.key,
          reason: outcome.reason,
        });
      }
    }
  }

  return async function handler(event: SQSEvent, _context?: Context): Promise<SQSBatchResponse> {
    const settled = await Promise.allSettled(event.Records.map((record) => limit(() => processRecord(record))));
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    settled.forEach((outcome, index) => {
      if (outcome.status === "fulfilled") return;
      const record = event.Records[index] as SQSRecord;
      deps.logger.error("record will be retried", {
        messageId: record.messageId,
        receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 0),
        error: outcome.reason,
        reason: errorMessage(outcome.reason),
      });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    });
    if (batchItemFailures.length > 0) (deps.metrics ?? noMetrics)({ [Metric.Retried]: batchItemFailures.length });
    return { batchItemFailures };
  };
}
