import { constants, readFileSync, truncateSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { z } from "zod";
import { replaceFileDurably } from "./durable-file.ts";

/** Where one recorded event goes: a queue of the bucket's notification configuration. */
export interface EventTarget {
  queueArn: string;
  /** The rule's Id, reported as `s3.configurationId`. */
  configurationId: string;
  /** The rule's event types, e.g. ["s3:ObjectCreated:*"]. */
  events: string[];
}

/**
 * One S3 event notification as the stack recorded it, before the request that caused it was
 * answered: everything needed to send it again after a restart.
 */
export interface RecordedEvent {
  /** Journal-local id, unique within one data folder. */
  id: number;
  bucket: string;
  /** The object key, decoded. */
  key: string;
  /** e.g. "ObjectCreated:Put", "ObjectRemoved:Delete". */
  eventName: string;
  /** When the store changed, ms since the epoch. */
  time: number;
  /** S3's per-key ordering token: 18 upper-case hex digits, growing across restarts. */
  sequencer: string;
  targets: EventTarget[];
  /** The edge named the event itself (a large upload it stored as multipart): don't refine it. */
  exact?: boolean;
}

/**
 * The few file operations the journal needs. The default works on the real file; tests pass
 * one that fails like a full disk does.
 */
export interface JournalFile {
  /** Writes `data` at byte `position`. */
  write(data: Buffer, position: number): Promise<void>;
  /** Makes everything written so far durable (fdatasync). */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export type OpenJournalFile = (file: string) => Promise<JournalFile>;

/** The request's event could not be recorded durably: the request must fail with a 5xx. */
export class JournalWriteError extends Error {
  override name = "JournalWriteError";
}

type Line = { add: RecordedEvent } | { done: number } | { high: string; next: number };

const HEX = z.string().regex(/^[0-9A-F]+$/i);
const JOURNAL_LINE: z.ZodType<Line> = z.union([
  z.object({
    add: z.object({
      id: z.number().int(),
      bucket: z.string(),
      key: z.string(),
      eventName: z.string(),
      time: z.number(),
      sequencer: HEX,
      targets: z.array(z.object({ queueArn: z.string(), configurationId: z.string(), events: z.array(z.string()) })),
      exact: z.boolean().optional(),
    }),
  }),
  z.object({ done: z.number().int() }),
  z.object({ high: HEX, next: z.number().int() }),
]);

/**
 * The journal has a line that is neither an entry nor the last line cut short by a crash (a
 * disk error, an edit by hand): starting would silently drop the events it may hold.
 */
export class JournalDamagedError extends Error {
  override name = "JournalDamagedError";
}

/** Past this size, a journal with nothing left to deliver is rewritten empty. */
const COMPACT_BYTES = 1024 * 1024;

/**
 * A write-ahead journal of S3 events (JSON lines in `<dataDir>/events.journal`): an event is
 * appended and fsynced before the request that caused it is answered, marked done once it is
 * on its queue, and everything not done is delivered again at start-up. Appends of concurrent
 * requests share one fsync (group commit). Without a file (in-memory stack), events live in
 * memory only and `commit` resolves at once.
 *
 * S3's own promise this keeps: an acknowledged write's event is delivered at least once
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html).
 */
export class EventJournal {
  /** Events recorded by an earlier run and not delivered: send them again. */
  readonly recovered: RecordedEvent[];
  private high: bigint;
  private nextId: number;
  private size: number;
  private pendingLines: string[] = [];
  /** Count of events appended so far; `commit` waits on this. */
  private appended = 0;
  /** Every event up to this count was written, successfully or not. */
  private attempted = 0;
  /** Ranges of appended events whose write failed (recent ones only). */
  private failures: { from: number; to: number; error: Error }[] = [];
  private undelivered = new Set<number>();
  private scheduled: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private doneTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly file: string | undefined,
    private handle: JournalFile | undefined,
    private readonly openFile: OpenJournalFile,
    state: { recovered: RecordedEvent[]; high: bigint; nextId: number; size: number },
  ) {
    this.recovered = state.recovered;
    this.high = state.high;
    this.nextId = state.nextId;
    this.size = state.size;
    for (const event of this.recovered) this.undelivered.add(event.id);
  }

  /**
   * Opens (or creates) the journal at `file`, reads what an earlier run left undelivered and
   * rewrites the file with only that. `file` undefined: an in-memory journal.
   * Throws the file system's error (e.g. ENOSPC, EACCES) if the file cannot be opened, and
   * JournalDamagedError (naming the file and line) for a line that is neither an entry nor
   * the last line cut short by a crash.
   */
  static async open(file: string | undefined, openFile: OpenJournalFile = openRealFile): Promise<EventJournal> {
    if (!file) return new EventJournal(undefined, undefined, openFile, { recovered: [], high: 0n, nextId: 1, size: 0 });
    const { recovered, high, nextId } = readJournal(file);
    let size: number;
    try {
      size = rewrite(file, recovered, high, nextId);
    } catch {
      // No room for a rewritten copy (a full disk): keep appending to the file as it is, less a
      // line cut short by a crash, or the next event appended would join it and be unreadable.
      // Shrinking a file needs no free space.
      size = dropTornLine(file);
    }
    const handle = await openFile(file);
    return new EventJournal(file, handle, openFile, { recovered, high, nextId, size });
  }

  /**
   * The next sequencer: 18 hex digits of (ms since the epoch × 10⁶), bumped past the highest
   * one ever recorded in this journal, so a key's sequencers grow across restarts even if the
   * clock steps back. S3 compares sequencers of one key as strings of equal length.
   */
  nextSequencer(): string {
    const fromClock = BigInt(Date.now()) * 1_000_000n;
    this.high = fromClock > this.high ? fromClock : this.high + 1n;
    return this.high.toString(16).toUpperCase().padStart(18, "0");
  }

  /** Records an event (buffered; durable once a later `commit` resolves). Returns it with its id. */
  add(event: Omit<RecordedEvent, "id">): RecordedEvent {
    const recorded = { id: this.nextId++, ...event };
    this.undelivered.add(recorded.id);
    this.appended++;
    if (this.file) this.pendingLines.push(line({ add: recorded }));
    return recorded;
  }

  /** The event is on its queues: it need not be sent again. Written lazily, never fsynced alone. */
  done(id: number): void {
    if (!this.undelivered.delete(id) || !this.file) return;
    this.pendingLines.push(line({ done: id }));
    this.doneTimer ??= setTimeout(() => {
      this.doneTimer = undefined;
      void this.flush();
    }, 200);
  }

  /** A position in the journal: pass it to `commit` after the request. */
  mark(): number {
    return this.appended;
  }

  /**
   * Resolves once every event added so far is durable. Rejects with JournalWriteError if an
   * event added after `since` (a `mark()` taken when the request began) could not be written:
   * possibly not this request's own, but then failing it too is only a retry.
   */
  async commit(since: number): Promise<void> {
    const target = this.appended;
    if (target === since) return;
    while (this.attempted < target) await this.flush();
    const failure = this.failures.find((f) => f.to > since && f.from <= target);
    if (failure)
      throw new JournalWriteError(`The event could not be recorded: ${failure.error.message}`, {
        cause: failure.error,
      });
  }

  /** Writes what is buffered and closes the file. */
  async close(): Promise<void> {
    clearTimeout(this.doneTimer);
    this.doneTimer = undefined;
    await this.flush();
    await this.chain;
    await this.handle?.close();
    this.handle = undefined;
  }

  private flush(): Promise<void> {
    if (!this.scheduled) {
      const next = this.chain.then(() => {
        this.scheduled = undefined;
        return this.flushOnce();
      });
      this.scheduled = next;
      this.chain = next;
    }
    return this.scheduled;
  }

  /** One group commit: write the buffered lines at the end of the file, fdatasync. Never throws. */
  private async flushOnce(): Promise<void> {
    const through = this.appended;
    const lines = this.pendingLines;
    this.pendingLines = [];
    if (!this.handle || lines.length === 0) {
      this.attempted = through;
      return;
    }
    const data = Buffer.from(lines.join(""));
    try {
      await this.handle.write(data, this.size);
      await this.handle.sync();
      this.size += data.length;
    } catch (error) {
      // Cut off whatever part of the lines reached the file, so the next append starts on a
      // line boundary; shrinking a file needs no free space.
      await this.handle.truncate(this.size).catch(() => {});
      if (through > this.attempted) {
        this.failures.push({ from: this.attempted + 1, to: through, error: error as Error });
        if (this.failures.length > 100) this.failures.shift();
      }
    }
    this.attempted = through;
    if (this.undelivered.size === 0 && this.size > COMPACT_BYTES) await this.compact();
  }

  /** Everything was delivered: start the file again with only the sequencer high-water mark. */
  private async compact(): Promise<void> {
    if (!this.file || !this.handle) return;
    try {
      await this.handle.close();
      this.size = rewrite(this.file, [], this.high, this.nextId);
    } catch {
      // Keep appending to the old file (on a full disk the rewrite has no room).
    }
    this.handle = await this.openFile(this.file);
  }
}

function line(value: Line): string {
  return `${JSON.stringify(value)}\n`;
}

function readJournal(file: string): { recovered: RecordedEvent[]; high: bigint; nextId: number } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { recovered: [], high: 0n, nextId: 1 };
    throw error;
  }
  const added = new Map<number, RecordedEvent>();
  let high = 0n;
  let nextId = 1;
  const lines = text.split("\n");
  const lastLine = lines.findLastIndex((raw) => raw !== "");
  for (const [index, raw] of lines.entries()) {
    if (raw === "") continue;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      // A line cut short by a crash mid-write: it was never committed, so never acknowledged.
      // Such a line is the file's very end: every line written whole ends with a newline, and a
      // cut-short one is cut off at start-up before anything is appended after it. A last line
      // that ends with a newline was written whole: it is damage, not a crash.
      if (index === lastLine && index === lines.length - 1) continue;
      throw damaged(file, index, "it is not JSON");
    }
    const entry = JOURNAL_LINE.safeParse(json);
    if (!entry.success) throw damaged(file, index, "it is not a journal entry");
    const parsed = entry.data;
    if ("add" in parsed) {
      added.set(parsed.add.id, parsed.add);
      high = maxBig(high, BigInt(`0x${parsed.add.sequencer}`));
      nextId = Math.max(nextId, parsed.add.id + 1);
    } else if ("done" in parsed) {
      added.delete(parsed.done);
    } else if ("high" in parsed) {
      high = maxBig(high, BigInt(`0x${parsed.high}`));
      nextId = Math.max(nextId, parsed.next);
    }
  }
  return { recovered: [...added.values()], high, nextId };
}

function damaged(file: string, index: number, why: string): JournalDamagedError {
  return new JournalDamagedError(
    `${file} is damaged at line ${index + 1} (${why}). Move it away to start without the events it still held, ` +
      "then run `npm run images -- reconcile` to queue the uploads that have no item.",
  );
}

/** Atomically replaces `file` with a header and `events`; returns the new size. */
function rewrite(file: string, events: RecordedEvent[], high: bigint, nextId: number): number {
  const data = Buffer.from(
    [line({ high: high.toString(16).toUpperCase(), next: nextId }), ...events.map((add) => line({ add }))].join(""),
  );
  return replaceFileDurably(file, data);
}

/** Cuts `file` after its last newline; returns its new size (0 if it does not exist). */
function dropTornLine(file: string): number {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
  const size = data.lastIndexOf(0x0a) + 1;
  if (size < data.length) truncateSync(file, size);
  return size;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** The journal file on disk: positional writes, fdatasync. */
export async function openRealFile(file: string): Promise<JournalFile> {
  // Not O_APPEND: on Linux it would ignore the positions the journal writes at.
  const handle: FileHandle = await open(file, constants.O_RDWR | constants.O_CREAT);
  return {
    async write(data, position) {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
        written += bytesWritten;
      }
    },
    sync: () => handle.datasync(),
    truncate: (length) => handle.truncate(length),
    close: () => handle.close(),
  };
}
