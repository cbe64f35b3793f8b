import { setTimeout as sleep } from "node:timers/promises";
import { GetQueueAttributesCommand, type Message } from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { Consumer } from "sqs-consumer";
import type { Clients } from "./clients.ts";
import type { Config } from "./config.ts";
import { errorMessage } from "./errors.ts";
import { createHandler } from "./handler.ts";
import type { Logger } from "./logger.ts";
import { queueUrl } from "./resources.ts";

export interface WorkerOptions {
  config: Config;
  clients: Clients;
  logger: Logger;
  /** Pollers receiving batches in parallel; they share one limit on images in flight. */
  pollers?: number;
  signal?: AbortSignal;
}

export interface Worker {
  queueUrl: string;
  /** Stops receiving, finishes the messages it holds, then resolves. */
  stop(): Promise<void>;
}

/**
 * Long-polls the queue and hands each batch to the very handler that runs on Lambda, as an
 * SQSEvent; deletes exactly the messages the handler did not report as failures.
 */
export async function startWorker({ config, clients, logger, pollers = 2, signal }: WorkerOptions): Promise<Worker> {
  const url = await waitForQueue(clients, config.names.queue, logger, signal);
  const attrs = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }));
  const queueArn = attrs.Attributes?.QueueArn ?? "";
  const handler = createHandler({ config, clients, logger });
  const visibility = config.queue.visibilityTimeoutSeconds;

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
    consumer.on("error", (error) => logger.warn("queue error; retrying", { reason: errorMessage(error) }));
    consumer.on("processing_error", (error) => logger.error("batch failed", { reason: errorMessage(error) }));
    consumer.start();
    return { consumer, isBusy: () => busy };
  });
  logger.info("worker started", { queueUrl: url, pollers, concurrency: config.worker.concurrency });

  return {
    queueUrl: url,
    async stop() {
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

async function waitForQueue(clients: Clients, name: string, logger: Logger, signal?: AbortSignal): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const url = await queueUrl(clients, name);
      if (url) return url;
      if (attempt === 0) logger.warn("queue does not exist yet; run `npm run bootstrap`", { queue: name });
    } catch (error) {
      if (attempt === 0) logger.warn("AWS endpoint not reachable yet", { reason: errorMessage(error) });
    }
    await sleep(Math.min(5000, 250 * 2 ** attempt), undefined, { signal });
  }
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
