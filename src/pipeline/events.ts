import type { S3Event, S3EventRecord } from "aws-lambda";
import { ErrorCode, PermanentError } from "../errors.ts";

/** One object to process, whatever shape of message announced it. */
export interface ObjectRef {
  bucket: string;
  /** The object key, decoded: exactly the bytes the uploader used. */
  key: string;
  size?: number;
  eTag?: string;
  /** S3's per-key ordering token (hex); absent for plain messages. */
  sequencer?: string;
  eventTime?: string;
  /** S3's eventName without "s3:" (ObjectCreated:Put, ObjectRemoved:Delete...), or "Manual" for a plain message. */
  eventName: string;
  /** Sent by `images reprocess`: make the thumbnails again even if this eTag is recorded. */
  reprocess?: boolean;
}

/** ObjectRemoved:Delete and ObjectRemoved:DeleteMarkerCreated: the key no longer has a current version. */
export function isRemoval(ref: ObjectRef): boolean {
  return ref.eventName.startsWith("ObjectRemoved:");
}

/** The configurationId `images reprocess` puts in its records (S3's own are the rule ids). */
export const REPROCESS_CONFIGURATION_ID = "reprocess";

/** What a message body asks for: objects to process, or nothing (e.g. S3's test event). */
export type ParsedMessage = { kind: "objects"; objects: ObjectRef[] } | { kind: "ignore"; reason: string };

/**
 * S3 writes keys in event notifications form-encoded: "+" for a space, %XX for the rest.
 * A literal "+" in a key therefore arrives as "%2B".
 */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, " "));
}

export function encodeS3Key(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+")
    .replace(/%2F/g, "/");
}

export function parseMessageBody(body: string): ParsedMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PermanentError(ErrorCode.BadMessage, "Message body is not JSON");
  }
  if (!isObject(json)) throw new PermanentError(ErrorCode.BadMessage, "Message body is not a JSON object");

  // S3 sends this once when a notification configuration is saved.
  if (json.Event === "s3:TestEvent") return { kind: "ignore", reason: "s3:TestEvent" };

  // An S3 event fanned out through SNS arrives wrapped in a Notification envelope.
  if (json.Type === "Notification" && typeof json.Message === "string") return parseMessageBody(json.Message);

  if (Array.isArray(json.Records)) return parseS3Event(json as unknown as S3Event);

  // The original Python project's queue message.
  if (typeof json.bucket_name === "string" && typeof json.image_key === "string") {
    if (!json.bucket_name || !json.image_key) {
      throw new PermanentError(ErrorCode.BadMessage, "bucket_name and image_key must not be empty");
    }
    return {
      kind: "objects",
      objects: [{ bucket: json.bucket_name, key: json.image_key, eventName: "Manual" }],
    };
  }
  throw new PermanentError(
    ErrorCode.BadMessage,
    "Message is neither an S3 event notification nor {bucket_name, image_key}",
  );
}

function parseS3Event(event: S3Event): ParsedMessage {
  const objects: ObjectRef[] = [];
  for (const record of event.Records) {
    if (!isObject(record) || record.eventSource !== "aws:s3") continue;
    if (typeof record.eventName !== "string") continue;
    if (!record.eventName.startsWith("ObjectCreated:") && !record.eventName.startsWith("ObjectRemoved:")) continue;
    objects.push(toObjectRef(record));
  }
  if (objects.length === 0) return { kind: "ignore", reason: "no ObjectCreated or ObjectRemoved records" };
  return { kind: "objects", objects };
}

function toObjectRef(record: S3EventRecord): ObjectRef {
  const bucket = record.s3?.bucket?.name;
  const rawKey = record.s3?.object?.key;
  if (typeof bucket !== "string" || typeof rawKey !== "string") {
    throw new PermanentError(ErrorCode.BadMessage, "S3 event record lacks s3.bucket.name or s3.object.key");
  }
  let key: string;
  try {
    key = decodeS3Key(rawKey);
  } catch {
    throw new PermanentError(ErrorCode.BadMessage, `S3 event key is not valid URL encoding: ${rawKey}`);
  }
  const { size, eTag, sequencer } = record.s3.object;
  return {
    bucket,
    key,
    eventName: record.eventName,
    ...(typeof size === "number" && { size }),
    ...(typeof eTag === "string" && { eTag: stripQuotes(eTag) }),
    ...(typeof sequencer === "string" && { sequencer }),
    ...(typeof record.eventTime === "string" && { eventTime: record.eventTime }),
    ...(record.s3.configurationId === REPROCESS_CONFIGURATION_ID && { reprocess: true }),
  };
}

export function stripQuotes(eTag: string): string {
  return eTag.replace(/^"|"$/g, "");
}

/**
 * Sequencers of one key only grow. S3's documented comparison: right-pad the shorter
 * hex string with zeros, then compare lexicographically. Stored padded, so a DynamoDB
 * condition expression can compare them as strings.
 */
export function normalizeSequencer(sequencer: string | undefined): string {
  return (sequencer ?? "").toUpperCase().padEnd(SEQUENCER_WIDTH, "0");
}
const SEQUENCER_WIDTH = 32;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What one S3 event notification record says; the key is given decoded. */
export interface S3EventFields {
  bucket: string;
  key: string;
  eventName: string;
  eventTime: string;
  region: string;
  object: { size?: number; eTag?: string; sequencer?: string };
  /** The notification configuration's Id that matched. */
  configurationId: string;
  /** userIdentity.principalId: who made the change. */
  principalId: string;
  /** The bucket owner's principal id. */
  ownerId: string;
  requestId: string;
  hostId: string;
}

/**
 * One S3 event notification message with one record, the key form-encoded as S3 writes it.
 * Shape: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
 */
export function s3EventMessage(fields: S3EventFields): S3Event {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: fields.region,
        eventTime: fields.eventTime,
        eventName: fields.eventName,
        userIdentity: { principalId: fields.principalId },
        requestParameters: { sourceIPAddress: "127.0.0.1" },
        responseElements: { "x-amz-request-id": fields.requestId, "x-amz-id-2": fields.hostId },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: fields.configurationId,
          bucket: {
            name: fields.bucket,
            ownerIdentity: { principalId: fields.ownerId },
            arn: `arn:aws:s3:::${fields.bucket}`,
          },
          // aws-lambda's type wants every object field; S3 omits size and eTag on deletes.
          object: { key: encodeS3Key(fields.key), ...fields.object } as S3Event["Records"][number]["s3"]["object"],
        },
      },
    ],
  };
}
