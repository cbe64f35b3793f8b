import { GetObjectCommand, NoSuchKey, PutObjectCommand } from "@aws-sdk/client-s3";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import pLimit from "p-limit";
import type { Clients } from "../aws/clients.ts";
import type { Config } from "../config.ts";
import { ErrorCode, errorMessage, PermanentError } from "../errors.ts";
import { formatBytes } from "../format.ts";
import type { Logger } from "../logger.ts";
import {
  type ImageItem,
  ImageStatus,
  imageIdFor,
  listShardFor,
  putImageItem,
  type ThumbnailRecord,
} from "../store/metadata.ts";
import type { FailureNotifier } from "./alerts.ts";
import { normalizeSequencer, type ObjectRef, parseMessageBody, stripQuotes } from "./events.ts";
import { Metric, type MetricsSink, noMetrics } from "./metrics.ts";
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
  | { result: "skipped"; reason: string; imageId?: string };

export function thumbnailKey(imageId: string, size: number, format: keyof typeof EXTENSIONS): string {
  return `${imageId}/${size}.${EXTENSIONS[format]}`;
}

export function fileNameOf(key: string, uploadPrefix: string): string {
  return key.startsWith(uploadPrefix) ? key.slice(uploadPrefix.length) : key;
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
      });
    } catch (error) {
      if (!(error instanceof PermanentError)) throw error;
      return recordFailure(ref, imageId, error, object, started, log);
    }

    const thumbnails: ThumbnailRecord[] = await Promise.all(
      result.thumbnails.map(async (thumb) => {
        const key = thumbnailKey(imageId, thumb.size, thumb.format);
        await clients.s3.send(
          new PutObjectCommand({
            Bucket: names.thumbnailsBucket,
            Key: key,
            Body: thumb.data,
            ContentType: thumb.contentType,
            // Keys are stable per image and rewritten on re-upload: cache, but not forever.
            CacheControl: "public, max-age=3600",
          }),
        );
        return {
          size: thumb.size,
          key,
          width: thumb.width,
          height: thumb.height,
          bytes: thumb.bytes,
          format: thumb.format,
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
      processedAt: new Date().toISOString(),
      processingMs: Math.round(performance.now() - started),
    };
    const outcome = await putImageItem(clients, names, item);
    if (outcome === "stale") return { result: "skipped", reason: "a newer upload is already recorded", imageId };
    log.info("processed", {
      format: item.format,
      width: item.width,
      height: item.height,
      bytes: item.bytes,
      processingMs: item.processingMs,
    });
    metrics({ [Metric.Processed]: 1, [Metric.ProcessingTime]: item.processingMs }, { imageId, key: ref.key });
    return { result: "processed", imageId, item };
  };

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
      processedAt: new Date().toISOString(),
      processingMs: Math.round(performance.now() - started),
    };
    const outcome = await putImageItem(clients, names, item);
    if (outcome === "stale") return { result: "skipped", reason: "a newer upload is already recorded", imageId };
    log.warn("failed", { errorCode: error.code, reason: error.message });
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
    throw new PermanentError(ErrorCode.TooLarge, `${formatBytes(bytes)} is over the limit of ${formatBytes(maxBytes)}`);
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

  async function processRecord(record: SQSRecord): Promise<void> {
    const parsed = parseMessageBody(record.body);
    if (parsed.kind === "ignore") {
      deps.logger.debug("ignored message", { messageId: record.messageId, reason: parsed.reason });
      return;
    }
    for (const ref of parsed.objects) await processObject(ref);
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
