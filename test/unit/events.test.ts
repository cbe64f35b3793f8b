import type { S3EventRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { PermanentError } from "../../src/errors.ts";
import { decodeS3Key, encodeS3Key, normalizeSequencer, parseMessageBody } from "../../src/pipeline/events.ts";
import { s3Event as s3EventFor } from "../s3-events.ts";

/** The message S3 sends for one object, with `rawKey` in the record as given (form-encoded as S3 writes it). */
function s3Event(rawKey: string, extra: { eventName?: string } = {}): string {
  const event = s3EventFor({
    bucket: "uploads-bucket",
    key: "",
    ...extra,
    eventTime: "2026-11-22T10:00:00.000Z",
    size: 1234,
    eTag: "abc123",
    sequencer: "0055AED6DCD90281E5",
  });
  // The key stays exactly as written here, so that decoding is tested on S3's own spelling.
  (event.Records[0] as S3EventRecord).s3.object.key = rawKey;
  return JSON.stringify(event);
}

describe("parseMessageBody", () => {
  it("reads bucket, decoded key, size, eTag and sequencer from an S3 event", () => {
    const parsed = parseMessageBody(s3Event("uploads/My+Holiday+%282026%29.jpg"));
    expect(parsed).toEqual({
      kind: "objects",
      objects: [
        {
          bucket: "uploads-bucket",
          key: "uploads/My Holiday (2026).jpg",
          size: 1234,
          eTag: "abc123",
          sequencer: "0055AED6DCD90281E5",
          eventTime: "2026-11-22T10:00:00.000Z",
          eventName: "ObjectCreated:Put",
        },
      ],
    });
  });

  it.each([
    ["a plus sign", "uploads/1+1=2.png"],
    ["a percent sign", "uploads/100% sure.png"],
    ["an ampersand and parentheses", "uploads/Tom & Jerry (1).jpg"],
    ["non-ASCII letters", "uploads/Zürich Ørsted 東京.jpg"],
    ["nested folders", "uploads/2026/11/a b.webp"],
  ])("round-trips a key with %s byte for byte", (_, key) => {
    const parsed = parseMessageBody(s3Event(encodeS3Key(key)));
    expect(parsed.kind === "objects" && parsed.objects[0]?.key).toBe(key);
  });

  it("encodes keys as S3 does: '+' for spaces, '%2B' for plus, slashes kept", () => {
    expect(encodeS3Key("uploads/a b+c(1).jpg")).toBe("uploads/a+b%2Bc%281%29.jpg");
    expect(decodeS3Key("uploads/a+b%2Bc%281%29.jpg")).toBe("uploads/a b+c(1).jpg");
  });

  it("accepts the original project's plain message", () => {
    const parsed = parseMessageBody(JSON.stringify({ bucket_name: "b", image_key: "uploads/x.jpg" }));
    expect(parsed).toEqual({ kind: "objects", objects: [{ bucket: "b", key: "uploads/x.jpg", eventName: "Manual" }] });
  });

  it("ignores S3's test event and events other than creates and removals", () => {
    expect(parseMessageBody(JSON.stringify({ Service: "Amazon S3", Event: "s3:TestEvent" })).kind).toBe("ignore");
    expect(parseMessageBody(s3Event("uploads/x.jpg", { eventName: "ObjectRestore:Completed" })).kind).toBe("ignore");
  });

  it("reads an ObjectRemoved:Delete record with its sequencer", () => {
    const parsed = parseMessageBody(s3Event("uploads/x.jpg", { eventName: "ObjectRemoved:Delete" }));
    expect(parsed).toMatchObject({
      kind: "objects",
      objects: [{ key: "uploads/x.jpg", eventName: "ObjectRemoved:Delete", sequencer: "0055AED6DCD90281E5" }],
    });
  });

  it("unwraps an S3 event delivered through SNS", () => {
    const parsed = parseMessageBody(JSON.stringify({ Type: "Notification", Message: s3Event("uploads/x.jpg") }));
    expect(parsed.kind === "objects" && parsed.objects[0]?.key).toBe("uploads/x.jpg");
  });

  it.each([["not json"], ["[]"], ['{"hello":"world"}'], ['{"bucket_name":"","image_key":""}']])(
    "rejects %s as a bad message",
    (body) => {
      expect(() => parseMessageBody(body)).toThrow(PermanentError);
      try {
        parseMessageBody(body);
      } catch (error) {
        expect((error as PermanentError).code).toBe("BAD_MESSAGE");
      }
    },
  );
});

describe("normalizeSequencer", () => {
  it("orders sequencers of different lengths as S3 documents (right-pad, then compare)", () => {
    const older = normalizeSequencer("0055AED6DCD90281E5");
    const newer = normalizeSequencer("0055AED6DCD90281E6");
    const longerNewer = normalizeSequencer("0055AED6DCD90281E500");
    expect(older < newer).toBe(true);
    expect(older <= longerNewer).toBe(true);
    expect(normalizeSequencer(undefined) < older).toBe(true);
  });
});
