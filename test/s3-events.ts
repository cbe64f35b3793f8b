// A factory of S3 event notification messages, for tests that decide the order of events
// themselves instead of waiting for the stack to send them.
import type { S3Event } from "aws-lambda";
import { encodeS3Key } from "../src/pipeline/events.ts";

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

/** One message body as S3 sends it to SQS: one record, key form-encoded. */
export function s3Event(options: S3EventOptions): S3Event {
  const eventName = options.eventName ?? "ObjectCreated:Put";
  const removed = eventName.startsWith("ObjectRemoved:");
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: "us-east-1",
        eventTime: options.eventTime ?? new Date().toISOString(),
        eventName,
        userIdentity: { principalId: "TEST" },
        requestParameters: { sourceIPAddress: "127.0.0.1" },
        responseElements: { "x-amz-request-id": "test", "x-amz-id-2": "test" },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: options.configurationId ?? "test",
          bucket: {
            name: options.bucket,
            ownerIdentity: { principalId: "TEST" },
            arn: `arn:aws:s3:::${options.bucket}`,
          },
          // S3 sends neither size nor eTag for a removal.
          object: {
            key: encodeS3Key(options.key),
            sequencer: options.sequencer,
            ...(!removed && { size: options.size ?? 0, eTag: options.eTag ?? "" }),
          } as S3Event["Records"][number]["s3"]["object"],
        },
      },
    ],
  };
}

/** Sequencers as S3 makes them: 18 hex digits, growing per key. `sequencerAt(1) < sequencerAt(2)`. */
export function sequencerAt(n: number): string {
  return (0x0055aed6dcd90281e5n + BigInt(n)).toString(16).toUpperCase().padStart(18, "0");
}

/** A sequencer S3 could give the next event of the same key: greater by one, same width. */
export function sequencerAfter(sequencer: string, by = 1): string {
  return (BigInt(`0x${sequencer}`) + BigInt(by)).toString(16).toUpperCase().padStart(sequencer.length, "0");
}
