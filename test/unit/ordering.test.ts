import { describe, expect, it } from "vitest";
import { normalizeSequencer, type ObjectRef, parseMessageBody } from "../../src/pipeline/events.ts";
import {
  decideCreate,
  deleteWins,
  derivedSequencer,
  type IncomingVersion,
  isFolderMarker,
  versionToken,
} from "../../src/pipeline/ordering.ts";
import { type ImageItem, ImageStatus } from "../../src/store/metadata.ts";
import { type S3EventOptions, s3Event, sequencerAt } from "../s3-events.ts";

const bucket = "uploads-bucket";
const key = "uploads/cat.jpg";

/** The ObjectRef the handler gets from the message S3 would send. */
function received(options: Partial<S3EventOptions> & { sequencer: string }): ObjectRef {
  const parsed = parseMessageBody(JSON.stringify(s3Event({ bucket, key, ...options })));
  if (parsed.kind !== "objects" || !parsed.objects[0]) throw new Error("no object in the event");
  return parsed.objects[0];
}

function incoming(ref: ObjectRef): IncomingVersion {
  return {
    sequencer: normalizeSequencer(ref.sequencer),
    ...(ref.eTag && { eTag: ref.eTag }),
    ...(ref.reprocess && { reprocess: true }),
  };
}

/** What the table holds after `ref` was applied. */
function recordedAfter(ref: ObjectRef, status: ImageItem["status"] = ImageStatus.Processed) {
  return {
    sequencer: normalizeSequencer(ref.sequencer),
    status,
    ...(status !== ImageStatus.Deleted && ref.eTag && { eTag: ref.eTag }),
  };
}

describe("ordering rules", () => {
  const v1 = received({ sequencer: sequencerAt(1), eTag: "aaaa" });
  const v2 = received({ sequencer: sequencerAt(2), eTag: "bbbb" });
  const removed3 = received({ sequencer: sequencerAt(3), eventName: "ObjectRemoved:Delete" });

  it("processes the first event of a key", () => {
    expect(decideCreate(undefined, incoming(v1))).toEqual({ action: "process" });
  });

  it("processes a newer upload over a recorded older one", () => {
    expect(decideCreate(recordedAfter(v1), incoming(v2))).toEqual({ action: "process" });
  });

  it("skips an older upload's event arriving after a newer upload is recorded", () => {
    expect(decideCreate(recordedAfter(v2), incoming(v1))).toMatchObject({ action: "skip" });
  });

  it("skips a redelivered event whose version is recorded already (no second processing)", () => {
    expect(decideCreate(recordedAfter(v2), incoming(v2))).toMatchObject({ action: "skip" });
  });

  it("processes a redelivered event again when it is a reprocess request", () => {
    const again = received({ sequencer: sequencerAt(2), eTag: "bbbb", configurationId: "reprocess" });
    expect(again.reprocess).toBe(true);
    expect(decideCreate(recordedAfter(v2), incoming(again))).toEqual({ action: "process" });
  });

  it("adopts the newer sequencer of identical content instead of processing it again", () => {
    const sameBytes = received({ sequencer: sequencerAt(5), eTag: "bbbb" });
    expect(decideCreate(recordedAfter(v2), incoming(sameBytes))).toEqual({ action: "adopt" });
  });

  it("lets a delete win over the recorded upload it follows", () => {
    expect(deleteWins(recordedAfter(v2), normalizeSequencer(removed3.sequencer))).toBe(true);
    expect(deleteWins(undefined, normalizeSequencer(removed3.sequencer))).toBe(true);
  });

  it("makes a delete older than the recorded upload remove nothing", () => {
    const newer = received({ sequencer: sequencerAt(4), eTag: "cccc" });
    expect(deleteWins(recordedAfter(newer), normalizeSequencer(removed3.sequencer))).toBe(false);
  });

  it("does not let a create older than a recorded delete bring the image back", () => {
    const tombstone = recordedAfter(removed3, ImageStatus.Deleted);
    expect(decideCreate(tombstone, incoming(v2))).toEqual({
      action: "skip",
      reason: "the object was deleted after this upload",
    });
  });

  it("processes an upload newer than the recorded delete, even of the same bytes as before", () => {
    const tombstone = recordedAfter(removed3, ImageStatus.Deleted);
    const recreated = received({ sequencer: sequencerAt(4), eTag: "bbbb" });
    expect(decideCreate(tombstone, incoming(recreated))).toEqual({ action: "process" });
  });

  it("reads S3's removal events, which carry no eTag, as removals with their sequencer", () => {
    expect(removed3).toMatchObject({ eventName: "ObjectRemoved:Delete", sequencer: sequencerAt(3) });
    expect(removed3.eTag).toBeUndefined();
  });
});

describe("plain messages (no sequencer)", () => {
  it("order just after the recorded event and before any later S3 event of the key", () => {
    const recorded = normalizeSequencer(sequencerAt(2));
    const plain = derivedSequencer(recorded);
    expect(plain > recorded).toBe(true);
    expect(plain < normalizeSequencer(sequencerAt(3))).toBe(true);
    expect(derivedSequencer(plain) > plain).toBe(true);
    expect(derivedSequencer(plain) < normalizeSequencer(sequencerAt(3))).toBe(true);
  });

  it("order before every S3 event when nothing is recorded", () => {
    expect(derivedSequencer(undefined) < normalizeSequencer(sequencerAt(0))).toBe(true);
  });

  it("make the S3 event of the same upload, arriving later, an adoption: one processing", () => {
    const plainWrote = { sequencer: derivedSequencer(undefined), eTag: "aaaa", status: ImageStatus.Processed };
    const event = { sequencer: normalizeSequencer(sequencerAt(1)), eTag: "aaaa" };
    expect(decideCreate(plainWrote, event)).toEqual({ action: "adopt" });
  });

  it("after the S3 event of the same upload, change nothing (never a downgrade)", () => {
    const eventWrote = { sequencer: normalizeSequencer(sequencerAt(1)), eTag: "aaaa", status: ImageStatus.Processed };
    const plain = { sequencer: derivedSequencer(eventWrote.sequencer), eTag: "aaaa", derived: true };
    expect(decideCreate(eventWrote, plain)).toMatchObject({ action: "skip" });
  });

  it("make a redelivered older event lose against the version a plain message recorded", () => {
    const plainWrote = {
      sequencer: derivedSequencer(normalizeSequencer(sequencerAt(1))),
      eTag: "bbbb",
      status: ImageStatus.Processed,
    };
    const old = { sequencer: normalizeSequencer(sequencerAt(1)), eTag: "aaaa" };
    expect(decideCreate(plainWrote, old)).toMatchObject({ action: "skip" });
  });
});

describe("keys", () => {
  it("give every version its own thumbnail prefix", () => {
    const a = versionToken(normalizeSequencer(sequencerAt(1)), "aaaaaaaaaaaaaaaaaaaa");
    const b = versionToken(normalizeSequencer(sequencerAt(2)), "aaaaaaaaaaaaaaaaaaaa");
    const c = versionToken(normalizeSequencer(sequencerAt(1)), "bbbbbbbbbbbbbbbbbbbb-2");
    expect(new Set([a, b, c]).size).toBe(3);
    expect(a).toMatch(/^[0-9A-F]+-[0-9a-z]{16}$/);
  });

  it("recognize folder markers and the upload prefix itself", () => {
    expect(isFolderMarker("uploads/album/", "uploads/")).toBe(true);
    expect(isFolderMarker("uploads/", "uploads/")).toBe(true);
    expect(isFolderMarker("uploads/album/cat.jpg", "uploads/")).toBe(false);
  });
});
