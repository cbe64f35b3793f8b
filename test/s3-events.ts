// A factory of S3 event notification messages, for tests that decide the order of events
// themselves instead of waiting for the stack to send them.
import type { S3Event } from "aws-lambda";
import { s3EventMessage } from "../src/pipeline/events.ts";

export interface S3EventOptions {
  bucket: string;
  key: string;
  /** "ObjectCreated:Put" (default), "ObjectRemoved:Delete", ... */
  eventName?: string;
  sequencer: string;
  eTag?: string;
  size?: number;
  eventTime?: string;
  configurationId?: string;
}

/** One message body as S3 sends it to SQS: one record, key form-encoded (the project's builder, test defaults). */
export function s3Event(options: S3EventOptions): S3Event {
  const eventName = options.eventName ?? "ObjectCreated:Put";
  const removed = eventName.startsWith("ObjectRemoved:");
  return s3EventMessage({
    bucket: options.bucket,
    key: options.key,
    eventName,
    eventTime: options.eventTime ?? new Date().toISOString(),
    region: "us-east-1",
    // S3 sends neither size nor eTag for a removal.
    object: { sequencer: options.sequencer, ...(!removed && { size: options.size ?? 0, eTag: options.eTag ?? "" }) },
    configurationId: options.configurationId ?? "test",
    principalId: "TEST",
    ownerId: "TEST",
    requestId: "test",
    hostId: "test",
  });
}

/** Sequencers as S3 makes them: 18 hex digits, growing per key. `sequencerAt(1) < sequencerAt(2)`. */
export function sequencerAt(n: number): string {
  return (0x0055aed6dcd90281e5n + BigInt(n)).toString(16).toUpperCase().padStart(18, "0");
}

/** A sequencer S3 could give the next event of the same key: greater by one, same width. */
export function sequencerAfter(sequencer: string, by = 1): string {
  return (BigInt(`0x${sequencer}`) + BigInt(by)).toString(16).toUpperCase().padStart(sequencer.length, "0");
}
