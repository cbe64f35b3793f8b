import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { XMLParser } from "fast-xml-parser";
import type { FauxqsServer, S3SpyEvent, SpyMessage } from "fauxqs";
import pLimit from "p-limit";
import { isNotFound } from "../aws/errors.ts";
import type { Logger } from "../logger.ts";
import { s3EventMessage, stripQuotes } from "../pipeline/events.ts";
import { replaceFileDurably } from "./durable-file.ts";
import type { EventJournal, RecordedEvent } from "./event-journal.ts";

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
 * `<dataDir>/notifications.json` is not what the hub writes (a disk error, an edit by hand):
 * starting without it would silently send no events for uploads. The message names the file
 * and says how to recover.
 */
export class NotificationsDamagedError extends Error {
  override name = "NotificationsDamagedError";
}

/**
 * Reads the saved notification setup: `{ [bucket]: StoredBucketConfig }`. Throws
 * NotificationsDamagedError when the file is not JSON or not an object of that shape.
 */
function readSavedConfigs(file: string): Record<string, StoredBucketConfig> {
  const text = readFileSync(file, "utf8");
  let saved: unknown;
  try {
    saved = JSON.parse(text);
  } catch (error) {
    throw notificationsDamaged(file, `it is not JSON: ${(error as Error).message}`);
  }
  const isObject = (value: unknown) => typeof value === "object" && value !== null && !Array.isArray(value);
  if (!isObject(saved) || !Object.values(saved as object).every(isObject)) {
    throw notificationsDamaged(file, "it is not a notification setup");
  }
  return saved as Record<string, StoredBucketConfig>;
}

function notificationsDamaged(file: string, why: string): NotificationsDamagedError {
  return new NotificationsDamagedError(
    `${file} is damaged (${why}). Move it away and start again: \`npm start\` sets the S3 → SQS notification up again ` +
      "(with `npm run stack`, run `npm run bootstrap`).",
  );
}

/**
 * Bucket notifications for the embedded stack. fauxqs accepts the configuration call but
 * stores and sends nothing, so the edge keeps the configuration here and this class turns
 * fauxqs's object events into S3 event messages on the configured queues.
 *
 * Each event is recorded in the journal while fauxqs handles the request, before its answer
 * reaches the edge; the edge relays a 2xx only after `commit` (the journal fsynced it). It is
 * then sent to its queues and marked done; a failed send is retried, and whatever is still
 * recorded at start-up is sent again. At least once, as on S3.
 */
export class NotificationHub {
  private configs = new Map<string, StoredBucketConfig>();
  private syncBatch: S3SpyEvent[] = [];
  private storedByEdge = new Map<string, string>();
  /** Recorded, not yet on every queue: id → the event and how many sends failed. */
  private undelivered = new Map<number, { event: RecordedEvent; failures: number }>();
  private retryTimers = new Set<NodeJS.Timeout>();
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
    private readonly journal: EventJournal,
  ) {
    if (file && existsSync(file)) this.configs = new Map(Object.entries(readSavedConfigs(file)));
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
    const { recovered } = this.journal;
    if (recovered.length > 0) {
      this.logger.info("sending S3 events recorded before the last stop", { events: recovered.length });
    }
    for (const event of recovered) this.schedule(event);
  }

  /** A position to pass to `commit` once the request that may cause events is answered upstream. */
  mark(): number {
    return this.journal.mark();
  }

  /**
   * Resolves once the events of every request answered so far are durably recorded; rejects
   * with JournalWriteError if one recorded since `mark` could not be: answer a 5xx then.
   */
  commit(mark: number): Promise<void> {
    return this.journal.commit(mark);
  }

  /** Resolves once every event seen so far is on its queues, or after `timeoutMs`; true if all were. */
  async drain(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.syncBatch.length > 0 || this.undelivered.size > 0) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  /** Stops sending (what is not sent stays recorded for the next start) and closes the journal. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await this.journal.close();
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
    // Saved before it takes effect: a setup that cannot be saved is answered with an error.
    const configs = new Map(this.configs);
    if (queues.length === 0) configs.delete(bucket);
    else configs.set(bucket, { xml, queues });
    this.save(configs);
    this.configs = configs;
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
    if (this.configs.delete(bucket)) this.save(this.configs);
  }

  /** Durably, before the request that changed it is answered (replaceFileDurably). */
  private save(configs: Map<string, StoredBucketConfig>): void {
    if (this.file) replaceFileDurably(this.file, Buffer.from(JSON.stringify(Object.fromEntries(configs), null, 2)));
  }

  private enqueue(event: S3SpyEvent): void {
    if (event.status !== "uploaded" && event.status !== "copied" && event.status !== "deleted") return;
    if (!this.configs.has(event.bucket)) return;
    // The events of one request are reported in one synchronous run; two requests never
    // share one, so the microtask boundary separates requests. The microtask still runs
    // before fauxqs's answer can reach the edge, so the events are in the journal by then.
    this.syncBatch.push(event);
    if (this.syncBatch.length === 1) queueMicrotask(() => this.closeBatch());
  }

  private closeBatch(): void {
    const events = this.syncBatch;
    this.syncBatch = [];
    for (const event of collapse(events)) {
      const config = this.configs.get(event.bucket);
      if (!config) continue;
      const id = `${event.bucket}/${event.key}`;
      const announced = this.storedByEdge.get(id);
      this.storedByEdge.delete(id);
      const eventName = announced ?? event.eventName;
      // A Put may turn out to be a CompleteMultipartUpload (see deliver): keep the rules of both.
      const names =
        eventName === "ObjectCreated:Put" ? [eventName, "ObjectCreated:CompleteMultipartUpload"] : [eventName];
      const targets = config.queues
        .filter((rule) => names.some((name) => eventMatches(rule, name, event.key)))
        .map((rule) => ({ queueArn: rule.queueArn, configurationId: rule.id, events: rule.events }));
      if (targets.length === 0) continue;
      // Sequencers are assigned in arrival order, before any await, so they grow per key.
      const recorded = this.journal.add({
        bucket: event.bucket,
        key: event.key,
        eventName,
        time: event.timestamp,
        sequencer: this.journal.nextSequencer(),
        targets,
        ...(announced && { exact: true }),
      });
      this.schedule(recorded);
    }
  }

  private schedule(event: RecordedEvent, failures = 0): void {
    this.undelivered.set(event.id, { event, failures });
    // setImmediate: leave fauxqs's call stack before talking to it.
    setImmediate(() => {
      this.deliveries(() => this.deliver(event)).then(
        () => {
          this.undelivered.delete(event.id);
          this.journal.done(event.id);
        },
        (error: unknown) => this.retryLater(event, failures + 1, error),
      );
    });
  }

  /** A send failed (fauxqs busy, disk full): the event stays recorded; try again, backing off to 30 s. */
  private retryLater(event: RecordedEvent, failures: number, error: unknown): void {
    if (this.stopped) return;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
    this.logger.warn("notification not delivered yet; retrying", {
      bucket: event.bucket,
      key: event.key,
      failures,
      retryInMs: delay,
      error,
    });
    this.undelivered.set(event.id, { event, failures });
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (!this.stopped) this.schedule(event, failures);
    }, delay);
    this.retryTimers.add(timer);
  }

  private async deliver(event: RecordedEvent): Promise<void> {
    if (this.stopped) throw new Error("notifications stopped");
    let eventName = event.eventName;
    let object: { size?: number; eTag?: string; sequencer: string } = { sequencer: event.sequencer };
    if (!event.eventName.startsWith("ObjectRemoved:")) {
      let head: { ContentLength?: number; ETag?: string };
      try {
        head = await this.s3.send(new HeadObjectCommand({ Bucket: event.bucket, Key: event.key }));
      } catch (error) {
        // Deleted again before we looked: S3 would still have sent the event, but with no
        // size to report; the handler treats a missing object as nothing to do.
        if (!isNotFound(error)) throw error;
        head = {};
      }
      const multipart = /-\d+$/.test(stripQuotes(head.ETag ?? ""));
      if (!event.exact && eventName === "ObjectCreated:Put" && multipart) {
        eventName = "ObjectCreated:CompleteMultipartUpload";
      }
      // S3's removal events carry no size and no eTag: the object is gone. Creations do.
      object = { size: head.ContentLength ?? 0, eTag: stripQuotes(head.ETag ?? ""), sequencer: event.sequencer };
    }
    for (const target of [...event.targets]) {
      const rule = {
        id: target.configurationId,
        queueArn: target.queueArn,
        events: target.events,
        prefix: "",
        suffix: "",
      };
      if (!eventMatches(rule, eventName, event.key)) {
        // Recorded for a Put that turned out to be a CompleteMultipartUpload, or the reverse.
      } else if (!this.fauxqs.inspectQueue(queueNameOf(target.queueArn))) {
        // S3 drops events for a queue that no longer exists; so do we, loudly.
        this.logger.warn("notification dropped: queue does not exist", { queueArn: target.queueArn, key: event.key });
      } else {
        this.send(target.queueArn, this.message(event, target.configurationId, eventName, object));
      }
      // Sent (or never to be): a retry of this event must not send it again.
      event.targets = event.targets.filter((t) => t !== target);
    }
  }

  /** One S3 event notification message: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html */
  private message(
    event: RecordedEvent,
    configurationId: string,
    eventName: string,
    object: { size?: number; eTag?: string; sequencer: string },
  ): unknown {
    return s3EventMessage({
      bucket: event.bucket,
      key: event.key,
      eventName,
      eventTime: new Date(event.time).toISOString(),
      region: this.region,
      object,
      configurationId,
      principalId: "AWS:EMBEDDED",
      ownerId: "EMBEDDED",
      requestId: randomUUID(),
      hostId: "embedded",
    });
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
