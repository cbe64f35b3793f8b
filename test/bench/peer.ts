// npm run bench -- --peer: the project's worker against the original project's own code
// (seed_worker.py: boto3 + Pillow) as a worker on the same embedded stack, same uploads,
// alternating rounds.
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import pLimit from "p-limit";
import { queueUrl } from "../../src/aws/lookups.ts";
import { queueDepth } from "../../src/aws/queues.ts";
import { type Harness, procCpuSplit, stopProcess } from "./harness.ts";
import type { PythonCommand } from "./python.ts";
import { type Measure, measured, notRun, ratio } from "./report.ts";

/**
 * SQS caps a long poll at 20 s. A stopped worker's pending long poll stays open in the
 * emulator and would take (and hide, for the visibility timeout) the first messages of
 * the next round: each round starts this long after the last worker stopped.
 */
export const AFTER_STOP_MS = 22_000;

export interface RawRun {
  imagesPerSecond: number;
  /** CPU seconds (user + system, all threads) per image. */
  cpuSecondsPerImage: number;
}

export interface PipelineRun {
  imagesPerSecond: Measure;
  /** The worker process(es), CPU seconds per image. */
  workerCpuPerImage: Measure;
  /** The process hosting the embedded stack and uploading, CPU seconds per image. */
  stackCpuPerImage: Measure;
}

export interface PeerRound {
  round: number;
  project: PipelineRun;
  original: PipelineRun;
  /** Raw sharp, measured between the two runs; none when the round stopped before. */
  raw: RawRun | undefined;
  projectOverOriginal: Measure;
}

export interface PeerOptions {
  h: Harness;
  /** One round's uploads (the folder, `copies` times). */
  files: { name: string; body: Buffer }[];
  copies: number;
  /** Images (the first of `files`) each worker processes, untimed, before its timed run. */
  warmUp: number;
  rounds: number;
  uploadConcurrency: number;
  peer: PythonCommand;
  /** Python worker processes (one per core by default). */
  procs: number;
  raw: () => Promise<RawRun>;
  log: (line: string) => void;
}

type Which = "project" | "original";

interface Workers {
  cpuSeconds(): number;
  /** Why a worker is gone, if one is. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

/** Runs the rounds; stops early (the rest reported as not run) when a worker dies. */
export async function comparePeer(o: PeerOptions): Promise<PeerRound[]> {
  const { h } = o;
  const url = await queueUrl(h.clients, h.config.names.queue);
  if (!url) throw new Error("the benchmark's queue does not exist");
  // S3's test event from setting up the bucket notification is all there is: start empty.
  await h.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  let stoppedAt = performance.now() - AFTER_STOP_MS;
  const out: PeerRound[] = [];

  for (let round = 1; round <= o.rounds; round++) {
    // Alternate which goes first (A B, B A, ...), so that a drift of the machine's load
    // favours neither.
    const order: Which[] = round % 2 === 1 ? ["project", "original"] : ["original", "project"];
    const runs: Partial<Record<Which, PipelineRun>> = {};
    let raw: RawRun | undefined;
    for (const which of order) {
      const workers = which === "project" ? projectWorkers(h) : pythonWorkers(o.peer, o.procs, h, url);
      try {
        await untilIdle(workers);
        await sleep(Math.max(0, stoppedAt + AFTER_STOP_MS - performance.now()));
        const prefix = `${h.config.uploadPrefix}peer/r${round}-${which}`;
        // Untimed: a worker that has been running a while (the JIT warm, connections open).
        const warm = await timeRound(o, workers, `${prefix}-warm-up/`, o.files.slice(0, o.warmUp), 1);
        runs[which] =
          "notRun" in warm.imagesPerSecond ? warm : await timeRound(o, workers, `${prefix}/`, o.files, o.copies);
      } catch (error) {
        runs[which] = failedRun(`${which}: ${(error as Error).message}`);
      } finally {
        await workers.stop();
        stoppedAt = performance.now();
      }
      // Raw sharp runs in the wait that follows a worker's stop, on otherwise idle cores.
      raw ??= await o.raw();
    }
    const project = runs.project as PipelineRun;
    const original = runs.original as PipelineRun;
    const row = {
      round,
      project,
      original,
      raw,
      projectOverOriginal: ratio(project.imagesPerSecond, original.imagesPerSecond),
    };
    out.push(row);
    o.log(
      `round ${round}: project ${fmt(project.imagesPerSecond)} img/s, original ${fmt(original.imagesPerSecond)} img/s, ratio ${fmt(row.projectOverOriginal)}`,
    );
    if (!("value" in project.imagesPerSecond) || !("value" in original.imagesPerSecond)) break;
  }
  return out;
}

function fmt(m: Measure): string {
  return "value" in m ? m.value.toFixed(2) : `not run (${m.notRun})`;
}

/**
 * Uploads the files, then waits until every upload's S3 event is on the queue and the
 * queue's own counters (waiting + in flight) are back to 0: a worker deletes a message
 * only once its image is done. Timed from the first upload to that moment.
 */
async function timeRound(
  o: PeerOptions,
  workers: Workers,
  prefix: string,
  files: PeerOptions["files"],
  copies: number,
): Promise<PipelineRun> {
  const { h } = o;
  const count = files.length * copies;
  if (count === 0)
    return { imagesPerSecond: measured(0), workerCpuPerImage: measured(0), stackCpuPerImage: measured(0) };
  const depth0 = await queueDepth(h.clients, h.config.names.queue);
  if ((depth0?.waiting ?? 0) + (depth0?.inFlight ?? 0) > 0) {
    return failedRun(`the queue was not empty before the round: ${JSON.stringify(depth0)}`);
  }
  const workerCpu0 = workers.cpuSeconds();
  const ownCpu0 = process.cpuUsage();
  const start = performance.now();
  const limit = pLimit(o.uploadConcurrency);
  await Promise.all(
    Array.from({ length: copies }, (_, copy) =>
      files.map((f) =>
        limit(() =>
          h.clients.s3.send(
            new PutObjectCommand({
              Bucket: h.config.names.uploadsBucket,
              Key: `${prefix}${copy}/${f.name}`,
              Body: f.body,
            }),
          ),
        ),
      ),
    ).flat(),
  );
  if (!(await h.stack.notificationsDelivered(60_000))) {
    return failedRun("the uploads' S3 events did not all reach the queue within 60 s");
  }
  // Polled often: the end of the round is known to within a poll; both pipelines pay the
  // same small cost for it.
  const deadline = performance.now() + Math.max(120_000, count * 2_000);
  let end: number;
  for (;;) {
    const depth = await queueDepth(h.clients, h.config.names.queue);
    if (depth && depth.waiting + depth.inFlight === 0) {
      end = performance.now();
      break;
    }
    const gone = workers.exited();
    if (gone) return failedRun(gone);
    if (performance.now() > deadline) return failedRun(`timed out with ${JSON.stringify(depth)} messages left`);
    await sleep(50);
  }
  const own = process.cpuUsage(ownCpu0);
  return {
    imagesPerSecond: measured(count / ((end - start) / 1000)),
    workerCpuPerImage: measured((workers.cpuSeconds() - workerCpu0) / count),
    stackCpuPerImage: measured((own.user + own.system) / 1e6 / count),
  };
}

function failedRun(why: string): PipelineRun {
  return { imagesPerSecond: notRun(why), workerCpuPerImage: notRun(why), stackCpuPerImage: notRun(why) };
}

/** Resolves once the workers have started and sit in their long polls (using no CPU). */
async function untilIdle(workers: Workers): Promise<void> {
  const deadline = performance.now() + 60_000;
  let last = workers.cpuSeconds();
  let quiet = 0;
  while (quiet < 2) {
    await sleep(250);
    const gone = workers.exited();
    if (gone) throw new Error(gone);
    if (performance.now() > deadline) throw new Error("the workers did not settle within 60 s");
    const now = workers.cpuSeconds();
    quiet = now - last <= 0.01 ? quiet + 1 : 0;
    last = now;
  }
}

function projectWorkers(h: Harness): Workers {
  h.startWorker();
  const worker = h.worker;
  return {
    cpuSeconds: () => h.workerCpu().total,
    exited: () => (worker.exitCode !== null ? `the project's worker exited with code ${worker.exitCode}` : undefined),
    stop: () => h.stopWorker(),
  };
}

function pythonWorkers(peer: PythonCommand, procs: number, h: Harness, queue: string): Workers {
  const stderr: string[] = [];
  const children: ChildProcess[] = Array.from({ length: procs }, () => {
    const child = spawn(peer.python, [peer.script], {
      env: {
        ...process.env,
        ...peer.env,
        ENDPOINT: h.stack.endpoint,
        QUEUE_URL: queue,
        THUMBS_BUCKET: h.config.names.thumbnailsBucket,
        TABLE: h.config.names.table,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr.push(chunk.toString("utf8"));
      if (stderr.length > 50) stderr.shift();
    });
    return child;
  });
  const killAll = () => {
    for (const c of children) c.kill("SIGKILL");
  };
  process.once("exit", killAll);
  return {
    cpuSeconds: () => children.reduce((sum, c) => sum + procCpuSplit(c.pid ?? 0).total, 0),
    exited: () => {
      const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
      if (!dead) return undefined;
      const tail = stderr.join("").trim().split("\n").at(-1) ?? "";
      return `${peer.script} exited (${dead.exitCode ?? dead.signalCode})${tail ? `: ${tail}` : ""}`;
    },
    async stop() {
      process.off("exit", killAll);
      await Promise.all(children.map((c) => stopProcess(c)));
    },
  };
}
