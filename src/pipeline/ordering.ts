// Which of two versions of one key wins: the rules every write of the handler follows.

import { ImageStatus } from "../store/metadata.ts";
import { normalizeSequencer } from "./events.ts";

/**
 * What the table records for a key, as far as ordering is concerned: the sequencer of the
 * last event applied (upload or delete), the eTag of the version the item describes, and
 * whether it is a tombstone.
 */
export interface RecordedVersion {
  sequencer: string;
  eTag?: string;
  status: string;
}

/** An ObjectCreated event, a plain message resolved with HeadObject, or a reprocess request. */
export interface IncomingVersion {
  /** Normalized (see normalizeSequencer). */
  sequencer: string;
  eTag?: string;
  /** `images reprocess`: make the thumbnails again even when this eTag is recorded already. */
  reprocess?: boolean;
  /** A plain message's sequencer (derivedSequencer), not S3's. */
  derived?: boolean;
}

export type CreateDecision =
  /** Make thumbnails and write the item (still conditionally: another event may win meanwhile). */
  | { action: "process" }
  /** This version is recorded already; only its newer sequencer and event time are taken. */
  | { action: "adopt" }
  | { action: "skip"; reason: string };

/**
 * Rules, in the order they apply (S3 documents sequencers as the only way to order events
 * of one key: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html):
 * 1. A recorded sequencer greater than the event's wins: the event is older (a late or
 *    redelivered upload, or an upload the recorded delete came after) and changes nothing.
 * 2. The same eTag is the same content: an item already describing it (processed or failed)
 *    is not made again; a newer sequencer for it (a re-upload of the same bytes, or the S3
 *    event after the plain message) is adopted so that older events keep losing. A plain
 *    message's derived sequencer is never adopted: it knows less (an upload date cut to the
 *    second by HeadObject) than the event already recorded.
 * 3. Everything else is processed, and the item's conditional put decides once more.
 */
export function decideCreate(recorded: RecordedVersion | undefined, incoming: IncomingVersion): CreateDecision {
  if (!recorded) return { action: "process" };
  if (recorded.sequencer > incoming.sequencer) {
    return {
      action: "skip",
      reason:
        recorded.status === ImageStatus.Deleted
          ? "the object was deleted after this upload"
          : "a newer upload is recorded",
    };
  }
  const sameContent =
    recorded.status !== ImageStatus.Deleted && incoming.eTag !== undefined && recorded.eTag === incoming.eTag;
  if (sameContent && !incoming.reprocess) {
    return recorded.sequencer < incoming.sequencer && !incoming.derived
      ? { action: "adopt" }
      : { action: "skip", reason: "this version is recorded already" };
  }
  return { action: "process" };
}

/**
 * A delete wins over everything recorded with a smaller or equal sequencer; it turns the
 * item into a tombstone so that a create event older than the delete, arriving late, loses
 * by rule 1 instead of bringing the image back.
 */
export function deleteWins(recorded: RecordedVersion | undefined, deleteSequencer: string): boolean {
  return !recorded || recorded.sequencer <= deleteSequencer;
}

/** Hex digits at the end of a normalized sequencer that S3's own sequencers (18 digits) never use. */
const DERIVED_DIGITS = 4;

/**
 * The sequencer for a version known only from HeadObject (a plain message has none, and
 * HeadObject does not return S3's): the recorded sequencer with its last digits counted up.
 * It is greater than the recorded one, so the object as it is now replaces what the table
 * describes (the recorded version's own event, redelivered, now loses), and smaller than any
 * sequencer S3 gives a later event of the key, which differs from the recorded one in an
 * earlier digit: a newer upload or delete still wins, and this version's own S3 event,
 * arriving later, is adopted (rule 2) with its real sequencer.
 */
export function derivedSequencer(recorded: string | undefined): string {
  const base = normalizeSequencer(recorded);
  const head = base.slice(0, -DERIVED_DIGITS);
  const count = Number.parseInt(base.slice(-DERIVED_DIGITS), 16) + 1;
  if (count >= 16 ** DERIVED_DIGITS) return base;
  return head + count.toString(16).toUpperCase().padStart(DERIVED_DIGITS, "0");
}

/**
 * The version part of thumbnail keys: the sequencer (trailing zeros dropped) and the start
 * of the eTag. Two processings share a version only when they saw the same content under
 * the same event, so a key never holds another version's thumbnail.
 */
export function versionToken(sequencer: string, eTag: string | undefined): string {
  const seq = normalizeSequencer(sequencer).replace(/0+$/, "") || "0";
  const tag = (eTag ?? "").replace(/[^0-9A-Za-z]/g, "").slice(0, 16) || "none";
  return `${seq}-${tag}`;
}

/**
 * Keys that are no image: the S3 console's "Create folder" writes a zero-byte object whose
 * key ends in "/", and the upload prefix itself can be such a marker.
 */
export function isFolderMarker(key: string, uploadPrefix: string): boolean {
  return key.endsWith("/") || key === uploadPrefix;
}
