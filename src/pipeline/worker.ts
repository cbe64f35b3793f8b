import { setTimeout as sleep } from "node:timers/promises";
import type { Message } from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { Consumer } from "sqs-consumer";
import type { Clients } from "../aws/clients.ts";
import { findTopic, queueArn as lookUpQueueArn, queueUrl } from "../aws/lookups.ts";
import type { Config } from "../config.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { pollUntil } from "../poll.ts";
import { alarmsActive, directFailureNotifier, type FailureNotifier } from "./alerts.ts";
import { createHandler } from "./handler.ts";
import { type MetricsSink, noMetrics } from "./metrics.ts";

export interface WorkerOptions {
  config: Config;
  clients: Clients;
  logger: Logger;
  /** Pollers receiving batches in parallel; they share one limit on images in flight. */
  pollers?: number;
  signal?: AbortSignal;
  metrics?: MetricsSink;
}

export interface Worker {
  queueUrl: string;
  /** The queue's ARN, as the handler's SQS records carry it; "" if SQS gave none. */
  queueArn: string;
  /** Stops receiving, finishes the messages it holds, then resolves. */
  stop(): Promise<void>;
}

/**
 * Long-polls the queue and hands each batch to the very handler that runs on Lambda, as an
 * SQSEvent; deletes exactly the messages the handler did not report as failures.
 */
export async function startWorker({
  config,
  clients,
  logger,
  pollers = 2,
  signal,
  metrics = noMetrics,
}: WorkerOptions): Promise<Worker> {
  const url = await waitForQueue(clients, config.names.queue, logger, signal);
  const queueArn = (await lookUpQueueArn(clients, url)) ?? "";
  const notifyFailure = await chooseFailureAlerts(config, clients, logger);
  const handler = createHandler({ config, clients, logger, metrics, ...(notifyFailure && { notifyFailure }) });
  const visibility = config.queue.visibilityTimeoutSeconds;

  // One outage tracker for all pollers: back off while the endpoint is down, log the
  // outage once and the recovery once, instead of a warning per failed poll.
  let failures = 0;
  let stopping = false;
  const onReceiveError = (error: unknown) => {
    if (stopping) return; // aborted long polls
    failures++;
    if (failures === 1) logger.warn("queue unreachable; backing off and retrying", { reason: errorMessage(error) });
  };
  const onReceiveOk = () => {
    if (failures > 0) logger.info("queue reachable again", { failedPolls: failures });
    failures = 0;
  };

  const consumers = Array.from({ length: pollers }, () => {
    let busy = false;
    const consumer = Consumer.create({
      queueUrl: url,
      sqs: clients.sqs,
      batchSize: config.worker.batchSize,
      waitTimeSeconds: config.worker.waitTimeSeconds,
      visibilityTimeout: visibility,
      // A slow 50 MP image must not reappear on the queue while it is being processed.
      heartbeatInterval: Math.max(1, Math.floor(visibility / 3)),
      // An unreachable endpoint (stack restarting) is retried after this pause, not fatal.
      authenticationErrorTimeout: 2000,
      pollingCompleteWaitTimeMs: visibility * 1000,
      // sqs-consumer pauses only for errors it knows (credentials, throttling); a refused
      // connection would be retried at once, so back off here: 0.25 s doubling to 10 s.
      preReceiveMessageCallback: async () => {
        if (failures > 0) await sleep(Math.min(10_000, 250 * 2 ** Math.min(failures, 6)));
      },
      postReceiveMessageCallback: async () => onReceiveOk(),
      attributeNames: ["All"],
      messageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp"],
      handleMessageBatch: async (messages) => {
        busy = true;
        const event = toSqsEvent(messages, queueArn, config.region);
        const { batchItemFailures } = await handler(event);
        const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
        return messages.filter((m) => !failed.has(m.MessageId ?? ""));
      },
    });
    // Busy from receiving a batch until its successes are deleted.
    consumer.on("response_processed", () => {
      busy = false;
    });
    consumer.on("error", (error, message) => {
      if (message === undefined) onReceiveError(error);
      else logger.warn("could not delete or extend a message; it will be redelivered", { reason: errorMessage(error) });
    });
    consumer.on("processing_error", (error) => logger.error("batch failed", { reason: errorMessage(error) }));
    consumer.start();
    return { consumer, isBusy: () => busy };
  });
  logger.info("worker started", { queueUrl: url, pollers, concurrency: config.worker.concurrency });

  return {
    queueUrl: url,
    queueArn,
    async stop() {
      stopping = true;
      await Promise.all(
        consumers.map(
          ({ consumer, isBusy }) =>
            new Promise<void>((resolve) => {
              if (!consumer.status.isRunning) return resolve();
              consumer.once("stopped", () => resolve());
              // An idle poller is only waiting in a long poll: abort it rather than wait
              // up to 20 s. A busy one finishes its batch and deletes what succeeded.
              consumer.stop({ abort: !isBusy() });
            }),
        ),
      );
      logger.info("worker stopped");
    },
  };
}

/** With CloudWatch alarms in place they alert; without (embedded stack), publish directly. */
async function chooseFailureAlerts(
  config: Config,
  clients: Clients,
  logger: Logger,
): Promise<FailureNotifier | undefined> {
  if (await alarmsActive(config, clients)) {
    logger.info("failure alerts: CloudWatch alarm notifies the topic", { alarm: config.names.failureAlarm });
    return undefined;
  }
  const topicArn = await findTopic(clients, config.names.failureTopic);
  if (!topicArn) {
    logger.warn("failure alerts: off (no alarm and no topic; run `npm run bootstrap`)");
    return undefined;
  }
  logger.info("failure alerts: no CloudWatch alarm here, publishing each failure to the topic", { topicArn });
  return directFailureNotifier(clients, topicArn);
}

/** The queue's URL once it exists: the first look-up at once, then 0.25 s doubling to 5 s; rejects when `signal` aborts. */
async function waitForQueue(clients: Clients, name: string, logger: Logger, signal?: AbortSignal): Promise<string> {
  let first = true;
  return pollUntil(
    async () => {
      const warn = first;
      first = false;
      try {
        const url = await queueUrl(clients, name);
        if (!url && warn) logger.warn("queue does not exist yet; run `npm run bootstrap`", { queue: name });
        return url;
      } catch (error) {
        if (warn) logger.warn("AWS endpoint not reachable yet", { reason: errorMessage(error) });
        return undefined;
      }
    },
    { intervalMs: 250, maxIntervalMs: 5000, signal },
  );
}

/** The SQS event Lambda would deliver for these messages. */
export function toSqsEvent(messages: Message[], queueArn: string, region: string): SQSEvent {
  return {
    Records: messages.map(
      (m): SQSRecord => ({
        messageId: m.MessageId ?? "",
        receiptHandle: m.ReceiptHandle ?? "",
        body: m.Body ?? "",
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
          SentTimestamp: m.Attributes?.SentTimestamp ?? "",
          SenderId: m.Attributes?.SenderId ?? "",
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? "",
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? "",
        eventSource: "aws:sqs",
        eventSourceARN: queueArn,
        awsRegion: region,
      }),
    ),
  };
}
