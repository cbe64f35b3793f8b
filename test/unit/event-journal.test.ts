import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  EventJournal,
  JournalDamagedError,
  type JournalFile,
  JournalWriteError,
  type OpenJournalFile,
  openRealFile,
  type RecordedEvent,
} from "../../src/embedded/event-journal.ts";

/** An event as the notification hub records it; `key` is what the tests tell apart. */
function event(journal: EventJournal, key: string): Omit<RecordedEvent, "id"> {
  return {
    bucket: "uploads-bucket",
    key,
    eventName: "ObjectCreated:Put",
    time: Date.now(),
    sequencer: journal.nextSequencer(),
    targets: [
      { queueArn: "arn:aws:sqs:us-east-1:000000000000:q", configurationId: "c", events: ["s3:ObjectCreated:*"] },
    ],
  };
}

/** Opens the real file, but fails like a full disk while `full` is set: half the bytes land, then ENOSPC. */
function faultyFile(state: { full: boolean }): OpenJournalFile {
  return async (file) => {
    const real = await openRealFile(file);
    return {
      ...real,
      async write(data, position) {
        if (!state.full) return real.write(data, position);
        await real.write(data.subarray(0, Math.floor(data.length / 2)), position);
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      },
    } satisfies JournalFile;
  };
}

/** A journal file holding one committed event for `key`, closed. */
async function journalOf(file: string, key: string): Promise<void> {
  const journal = await EventJournal.open(file);
  journal.add(event(journal, key));
  await journal.commit(0);
  await journal.close();
}

describe("the S3 event journal", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "journal-"));
    file = path.join(dir, "events.journal");
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives back, after a crash, every committed event not yet marked done", async () => {
    const first = await EventJournal.open(file);
    const since = first.mark();
    const a = first.add(event(first, "uploads/a.jpg"));
    first.add(event(first, "uploads/b.jpg"));
    await first.commit(since);
    // No close: the process died here.

    const second = await EventJournal.open(file);
    expect(second.recovered.map((e) => e.key)).toEqual(["uploads/a.jpg", "uploads/b.jpg"]);
    second.done(a.id);
    await second.close();

    const third = await EventJournal.open(file);
    expect(third.recovered.map((e) => e.key)).toEqual(["uploads/b.jpg"]);
    await third.close();
  });

  it("keeps a key's sequencers growing across restarts, even when the clock steps back", async () => {
    const first = await EventJournal.open(file);
    const a = first.add(event(first, "uploads/a.jpg"));
    await first.commit(0);
    first.done(a.id);
    await first.close();

    vi.spyOn(Date, "now").mockReturnValue(a.time - 3_600_000);
    const second = await EventJournal.open(file);
    expect(second.recovered).toEqual([]);
    const later = second.nextSequencer();
    expect(later.length).toBe(a.sequencer.length);
    expect(later > a.sequencer).toBe(true);
    expect(second.nextSequencer() > later).toBe(true);
    await second.close();
  });

  it("fails the commit when the event cannot be written, and stays readable for the next ones", async () => {
    const state = { full: true };
    const journal = await EventJournal.open(file, faultyFile(state));
    const before = journal.mark();
    journal.add(event(journal, "uploads/lost.jpg"));
    await expect(journal.commit(before)).rejects.toBeInstanceOf(JournalWriteError);

    state.full = false;
    const after = journal.mark();
    journal.add(event(journal, "uploads/kept.jpg"));
    await journal.commit(after);
    // A request that began before the failure is failed too; one that began after is not.
    await expect(journal.commit(before)).rejects.toBeInstanceOf(JournalWriteError);

    const reopened = await EventJournal.open(file);
    expect(reopened.recovered.map((e) => e.key)).toEqual(["uploads/kept.jpg"]);
    await reopened.close();
    await journal.close();
  });

  it("ignores a line cut short by a crash mid-write", async () => {
    const journal = await EventJournal.open(file);
    journal.add(event(journal, "uploads/a.jpg"));
    await journal.commit(0);
    appendFileSync(file, '{"add":{"id":99,"bucket":"uploads-bu');
    const reopened = await EventJournal.open(file);
    expect(reopened.recovered.map((e) => e.key)).toEqual(["uploads/a.jpg"]);
    reopened.add(event(reopened, "uploads/b.jpg"));
    await reopened.commit(0);
    expect(
      readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .every((l) => JSON.parse(l)),
    ).toBe(true);
    await reopened.close();
    await journal.close();
  });

  it("refuses to start on a damaged last line that ends with a newline (written whole, so no crash cut it)", async () => {
    await journalOf(file, "uploads/a.jpg");
    appendFileSync(file, '{"add":{"id":99,"bucket":"uploads-b\u0000\u0000\n');
    const lines = readFileSync(file, "utf8").split("\n").filter(Boolean).length;
    await expect(EventJournal.open(file)).rejects.toThrow(`${file} is damaged at line ${lines} (it is not JSON)`);
  });

  it.for([
    ["not JSON", "{not json"],
    ["JSON of another shape", '{"add":{"id":"x"}}'],
    ["a sequencer that is not hex", '{"high":"zz","next":3}'],
  ] as const)(
    "refuses to start on a damaged line (%s) in the middle, naming the file and the line",
    async ([, bad]) => {
      await journalOf(file, "uploads/a.jpg");
      appendFileSync(file, `${bad}\n`);
      appendFileSync(file, `${JSON.stringify({ done: 12345 })}\n`);
      const lines = readFileSync(file, "utf8").split("\n").filter(Boolean).length;
      await expect(EventJournal.open(file)).rejects.toThrow(
        `${file} is damaged at line ${lines - 1} (it is not ${bad.startsWith("{not") ? "JSON" : "a journal entry"})`,
      );
      await expect(EventJournal.open(file)).rejects.toBeInstanceOf(JournalDamagedError);
    },
  );

  it("keeps the next events after a line cut short by a crash, when a full disk leaves no room to rewrite", async () => {
    await journalOf(file, "uploads/a.jpg");
    appendFileSync(file, '{"add":{"id":99,"bucket":"uploads-bu');
    // The rewrite at start-up writes <file>.tmp: make that fail, as ENOSPC would.
    mkdirSync(`${file}.tmp`);

    const reopened = await EventJournal.open(file);
    reopened.add(event(reopened, "uploads/b.jpg"));
    await reopened.commit(0);
    // No close: the process died here.
    const third = await EventJournal.open(file);
    expect(third.recovered.map((e) => e.key)).toEqual(["uploads/a.jpg", "uploads/b.jpg"]);
    await third.close();
    await reopened.close();
  });

  it("keeps events in memory only without a file", async () => {
    const journal = await EventJournal.open(undefined);
    journal.add(event(journal, "uploads/a.jpg"));
    await journal.commit(0);
    expect(journal.recovered).toEqual([]);
    await journal.close();
  });
});
