import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from "@aws-sdk/client-sqs";
import type { Config } from "../config.ts";
import type { Clients } from "./clients.ts";
import { isNotFound } from "./errors.ts";
import { queueUrl } from "./lookups.ts";

export interface QueueDepth {
  /** Waiting to be received. */
  waiting: number;
  /** Received by a worker and not yet deleted. */
  inFlight: number;
}

/** Queue URLs already looked up, per set of clients: the gallery asks for depths every few seconds. */
const knownUrls = new WeakMap<Clients, Map<string, string>>();

/** Approximate counts, as SQS reports them; undefined when the queue does not exist. */
export async function queueDepth(clients: Clients, name: string): Promise<QueueDepth | undefined> {
  const urls = knownUrls.get(clients) ?? new Map<string, string>();
  knownUrls.set(clients, urls);
  const url = urls.get(name) ?? (await queueUrl(clients, name));
  if (!url) return undefined;
  let a: Record<string, string>;
  try {
    ({ Attributes: a = {} } = await clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    ));
  } catch (error) {
    // Deleted (teardown) since we looked it up: forget the URL and ask again next time.
    urls.delete(name);
    if (isNotFound(error)) return undefined;
    throw error;
  }
  urls.set(name, url);
  return {
    waiting: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

/**
 * Moves every message from the dead-letter queue back to the main queue, for another try
 * once the cause is fixed. Each message is sent before it is deleted, so a crash in between
 * duplicates a message (harmless: processing is idempotent) but never loses one.
 * Written with plain receive/send/delete rather than StartMessageMoveTask, which the
 * embedded stack does not serve.
 */
export async function redriveDeadLetters(config: Config, clients: Clients): Promise<number> {
  const [source, target] = await Promise.all([
    queueUrl(clients, config.names.deadLetterQueue),
    queueUrl(clients, config.names.queue),
  ]);
  if (!source || !target) throw new Error("The queues do not exist: run `npm run bootstrap` first.");
  let moved = 0;
  for (;;) {
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: source,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
      }),
    );
    if (Messages.length === 0) return moved;
    const entries = Messages.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? "" }));
    const sent = await clients.sqs.send(new SendMessageBatchCommand({ QueueUrl: target, Entries: entries }));
    const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
    const toDelete = Messages.flatMap((m, i) =>
      ok.has(String(i)) && m.ReceiptHandle ? [{ Id: String(i), ReceiptHandle: m.ReceiptHandle }] : [],
    );
    if (toDelete.length > 0) {
      await clients.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: source, Entries: toDelete }));
    }
    moved += toDelete.length;
    if (toDelete.length < Messages.length) {
      throw new Error(`Moved ${moved}; ${Messages.length - toDelete.length} could not be sent and stay in the DLQ.`);
    }
  }
}
