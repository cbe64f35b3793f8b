import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { XMLParser } from "fast-xml-parser";
import type { FauxqsServer, S3SpyEvent, SpyMessage } from "fauxqs";
import pLimit from "p-limit";
import type { Logger } from "../logger.ts";
import { encodeS3Key, stripQuotes } from "../pipeline/events.ts";

/** One S3 → SQS rule of a bucket's notification configuration. */
export interface QueueRule {
  id: string;
  queueArn: string;
  events: string[];
  prefix: string;
  suffix: string;
}

interface StoredBucketConfig {
  /** The XML as the client sent it, returned verbatim by GetBucketNotificationConfiguration. */
  xml: string;
  queues: QueueRule[];
}

const parser = new XMLParser({
  ignoreAttributes: true,
  isArray: (name) =>
    ["QueueConfiguration", "TopicConfiguration", "CloudFunctionConfiguration", "Event", "FilterRule"].includes(name),
  parseTagValue: false,
});

const EMPTY_CONFIG_XML =
  '<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>';

export class NotificationConfigError extends Error {
  override name = "NotificationConfigError";
}

/** Parses PutBucketNotificationConfiguration's body; only queue destinations are delivered. */
export function parseNotificationXml(xml: string): QueueRule[] {
  const doc = parser.parse(xml) as { NotificationConfiguration?: Record<string, unknown> | string };
  const root = doc.NotificationConfiguration;
  if (root === undefined) throw new NotificationConfigError("Body is not a NotificationConfiguration");
  if (typeof root === "string") return [];
  const queues = (root.QueueConfiguration as Record<string, unknown>[] | undefined) ?? [];
  return queues.map((q) => {
    const rules =
      ((q.Filter as Record<string, Record<string, unknown>> | undefined)?.S3Key?.FilterRule as
        | { Name?: string; Value?: string }[]
        | undefined) ?? [];
    const rule = (name: string) => rules.find((r) => r.Name?.toLowerCase() === name)?.Value ?? "";
    const queueArn = typeof q.Queue === "string" ? q.Queue : "";
    if (!queueArn.startsWith("arn:aws:sqs:")) throw new NotificationConfigError(`Invalid queue ARN: ${queueArn}`);
    return {
      id: typeof q.Id === "string" && q.Id ? q.Id : randomUUID(),
      queueArn,
      events: ((q.Event as string[] | undefined) ?? []).map(String),
      prefix: rule("prefix"),
      suffix: rule("suffix"),
    };
  });
}

export function eventMatches(rule: QueueRule, eventName: string, key: string): boolean {
  const wanted = `s3:${eventName}`;
  const eventOk = rule.events.some((e) => e === wanted || (e.endsWith(":*") && wanted.startsWith(e.slice(0, -1))));
  return eventOk && key.startsWith(rule.prefix) && key.endsWith(rule.suffix);
}

/**
 * Bucket notifications for the embedded stack. fauxqs accepts the configuration call but
 * stores and sends nothing, so the edge keeps the configuration here and this class turns
 * fauxqs's object events into S3 event messages on the configured queues.
 */
export class NotificationHub {
  private configs = new Map<string, StoredBucketConfig>();
  private syncBatch: S3SpyEvent[] = [];
  private storedByEdge = new Map<string, string>();
  private inFlight = 0;
  private sequence = 0n;
  /**
   * Events are delivered a few at a time, each after a HeadObject round trip to fauxqs for
   * size and ETag: one at a time, 20,000 uploads took about 40 s to reach the queue. Order
   * needs no care: sequencers are assigned on arrival, and S3 promises no order either.
   */
  private readonly deliveries = pLimit(8);
  private stopped = false;

  constructor(
    private readonly fauxqs: FauxqsServer,
    /** Talks to fauxqs directly (not through the edge) to read object size and ETag. */
    private readonly s3: S3Client,
    private readonly region: string,
    private readonly logger: Logger,
    private readonly file: string | undefined,
  ) {
    if (file && existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, "utf8")) as Record<string, StoredBucketConfig>;
      this.configs = new Map(Object.entries(saved));
    }
  }

  start(): void {
    // fauxqs's spy calls every pending waiter's predicate on each event, so a waiter that
    // never matches sees every object event, however small the spy's buffer. The predicate
    // must not call back into fauxqs: it only queues the event.
    this.fauxqs.spy
      .waitForMessage((message: SpyMessage) => {
        if (!this.stopped && message.service === "s3") this.enqueue(message);
        return false;
      })
      .catch(() => {
        // Rejected when the spy is cleared on shutdown.
      });
  }

  /** Resolves once every event seen so far has been delivered. */
  async drain(): Promise<void> {
    while (this.syncBatch.length > 0 || this.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  }

  stop(): void {
    this.stopped = true;
  }

  getXml(bucket: string): string {
    return this.configs.get(bucket)?.xml ?? EMPTY_CONFIG_XML;
  }

  /** Validates and stores a configuration; sends S3's test event to each queue, as S3 does. */
  put(bucket: string, xml: string): void {
    const queues = parseNotificationXml(xml);
    for (const rule of queues) {
      if (!this.fauxqs.inspectQueue(queueNameOf(rule.queueArn))) {
        throw new NotificationConfigError(
          `Unable to validate the following destination configurations: ${rule.queueArn}`,
        );
      }
    }
    if (queues.length === 0) this.configs.delete(bucket);
    else this.configs.set(bucket, { xml, queues });
    this.save();
    for (const rule of queues) {
      this.send(rule.queueArn, {
        Service: "Amazon S3",
        Event: "s3:TestEvent",
        Time: new Date().toISOString(),
        Bucket: bucket,
        RequestId: randomUUID(),
        HostId: "embedded",
      });
    }
  }

  /** The edge stored a large PutObject or POST as a multipart upload: report the event it was. */
  expectEvent(bucket: string, key: string, eventName: string): void {
    // Only events of configured buckets are delivered, and so ever take their entry back.
    if (this.configs.has(bucket)) this.storedByEdge.set(`${bucket}/${key}`, eventName);
  }

  forgetBucket(bucket: string): void {
    if (this.configs.delete(bucket)) this.save();
  }

  private save(): void {
    if (this.file) writeFileSync(this.file, JSON.stringify(Object.fromEntries(this.configs), null, 2));
  }

  private enqueue(event: S3SpyEvent): void {
    if (event.status !== "uploaded" && event.status !== "copied" && event.status !== "deleted") return;
    if (!this.configs.has(event.bucket)) return;
    // The events of one request are reported in one synchronous run; two requests never
    // share one, so the microtask boundary separates requests.
    this.syncBatch.push(event);
    if (this.syncBatch.length === 1) queueMicrotask(() => this.closeBatch());
  }

  private closeBatch(): void {
    const events = this.syncBatch;
    this.syncBatch = [];
    for (const created of collapse(events)) {
      // Sequencers are assigned in arrival order, before any await, so they grow per key;
      // so is what the edge announced for this upload, before a later upload of the key.
      const sequencer = this.nextSequencer();
      const id = `${created.bucket}/${created.key}`;
      const asStored = this.storedByEdge.get(id);
      this.storedByEdge.delete(id);
      this.inFlight++;
      // setImmediate: leave fauxqs's call stack before talking to it.
      setImmediate(() => {
        this.deliveries(() => this.deliver(created, sequencer, asStored))
          .catch((error: unknown) => {
            this.logger.error("notification not delivered", { bucket: created.bucket, key: created.key, error });
          })
          .finally(() => {
            this.inFlight--;
          });
      });
    }
  }

  private nextSequencer(): string {
    this.sequence += 1n;
    const value = BigInt(Date.now()) * 1_000_000n + (this.sequence % 1_000_000n);
    return value.toString(16).toUpperCase().padStart(18, "0");
  }

  private async deliver(created: ObjectEvent, sequencer: string, asStored: string | undefined): Promise<void> {
    const config = this.configs.get(created.bucket);
    if (!config) return;
    const rules = config.queues.filter((rule) => eventMatches(rule, created.eventName, created.key));
    if (rules.length === 0) return;
    if (created.eventName.startsWith("ObjectRemoved:")) {
      // S3's removal events carry no size and no eTag: the object is gone.
      for (const rule of rules) this.send(rule.queueArn, this.record(rule, created, created.eventName, { sequencer }));
      return;
    }
    let head: { ContentLength?: number; ETag?: string };
    try {
      head = await this.s3.send(new HeadObjectCommand({ Bucket: created.bucket, Key: created.key }));
    } catch {
      // Deleted again before we looked: S3 would still have sent the event, but with no
      // size to report; the handler treats a missing object as nothing to do.
      head = {};
    }
    const multipart = /-\d+$/.test(stripQuotes(head.ETag ?? ""));
    const eventName =
      asStored ??
      (created.eventName === "ObjectCreated:Put" && multipart
        ? "ObjectCreated:CompleteMultipartUpload"
        : created.eventName);
    const object = { size: head.ContentLength ?? 0, eTag: stripQuotes(head.ETag ?? ""), sequencer };
    for (const rule of rules) this.send(rule.queueArn, this.record(rule, created, eventName, object));
  }

  /** One S3 event notification message: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html */
  private record(
    rule: QueueRule,
    created: ObjectEvent,
    eventName: string,
    object: { size?: number; eTag?: string; sequencer: string },
  ): unknown {
    return {
      Records: [
        {
          eventVersion: "2.1",
          eventSource: "aws:s3",
          awsRegion: this.region,
          eventTime: new Date(created.timestamp).toISOString(),
          eventName,
          userIdentity: { principalId: "AWS:EMBEDDED" },
          requestParameters: { sourceIPAddress: "127.0.0.1" },
          responseElements: { "x-amz-request-id": randomUUID(), "x-amz-id-2": "embedded" },
          s3: {
            s3SchemaVersion: "1.0",
            configurationId: rule.id,
            bucket: {
              name: created.bucket,
              ownerIdentity: { principalId: "EMBEDDED" },
              arn: `arn:aws:s3:::${created.bucket}`,
            },
            object: { key: encodeS3Key(created.key), ...object },
          },
        },
      ],
    };
  }

  private send(queueArn: string, body: unknown): void {
    const parts = queueArn.split(":");
    this.fauxqs.sendMessage(queueNameOf(queueArn), JSON.stringify(body), { region: parts[3] ?? this.region });
  }
}

interface ObjectEvent {
  bucket: string;
  key: string;
  eventName: string;
  timestamp: number;
}

/**
 * fauxqs reports one PutObject as one "uploaded"; a POST upload as two "uploaded" and a
 * copy as "uploaded" + "copied", each pair within the same tick; a removed key as "deleted".
 * One object event each.
 */
export function collapse(events: S3SpyEvent[]): ObjectEvent[] {
  const out: ObjectEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as S3SpyEvent;
    const next = events[i + 1];
    const pairs = next !== undefined && next.bucket === event.bucket && next.key === event.key;
    if (event.status === "uploaded" && pairs && next.status === "copied") {
      out.push({ ...event, eventName: "ObjectCreated:Copy" });
      i++;
    } else if (event.status === "uploaded" && pairs && next.status === "uploaded") {
      out.push({ ...event, eventName: "ObjectCreated:Post" });
      i++;
    } else if (event.status === "uploaded") {
      out.push({ ...event, eventName: "ObjectCreated:Put" });
    } else if (event.status === "deleted") {
      // DeleteObject, and each key of DeleteObjects (fauxqs reports only keys that existed).
      out.push({ ...event, eventName: "ObjectRemoved:Delete" });
    }
  }
  return out;
}

function queueNameOf(arn: string): string {
  return arn.split(":").at(-1) ?? "";
}
