// npm run bench [folder] [-- --rounds 3 --pillow --latency 10 --backlog 5000 | --peer]
// Measures, on the same images in one run: raw sharp (the reference), the whole pipeline on
// the embedded stack, optionally the original Pillow loop; alternating rounds, medians.
// --peer instead races the project's worker against the original project's own code.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import sharp from "sharp";
import { z } from "zod";
import { queueDepth } from "../../src/aws/queues.ts";
import { command, parseCommand, wholeNumber } from "../../src/cli/command.ts";
import { pollUntil } from "../../src/poll.ts";
import { getImageItem, type ImageItem, imageIdFor } from "../../src/store/metadata.ts";
import { allImages, countImages } from "../../src/store/query.ts";
import { formatTable } from "../../src/table.ts";
import { type Harness, startHarness } from "./harness.ts";
import { comparePeer, type PeerRound, type RawRun } from "./peer.ts";
import { findPython, type PythonCommand, sharedBenchScript } from "./python.ts";
import {
  latencySummary,
  type Measure,
  measured,
  median,
  medianOf,
  notRun,
  notRunReasons,
  peerReport,
  ratio,
  show,
  showLatency,
} from "./report.ts";

const values = parseCommand(
  command(
    "bench",
    "Measures on the same images in one run: raw sharp (the reference), the whole pipeline on the embedded stack, " +
      "optionally the original Pillow loop and the original project's worker; alternating rounds, medians.",
  )
    .argument("[folder]", "the images to process", "img")
    .option("--rounds <n>", "alternating rounds to take the median of", "3")
    .option("--pillow", "also time the original project's Pillow loop (python3 + PIL)")
    .option("--pillow-script <path>", "the Pillow loop to run", sharedBenchScript("pillow_thumb.py"))
    .option("--peer", "also run the original project's Lambda code as a worker on the same stack, against ours")
    .option("--peer-script <path>", "the original worker to run", sharedBenchScript("seed_worker.py"))
    .option("--peer-procs <n>", "processes of the original worker", String(cpus().length))
    .option("--peer-copies <n>", "each round uploads the folder this many times", "2")
    .option(
      "--peer-warm-up <n>",
      "images each worker processes, untimed, before its timed run (a warm, long-running worker)",
      "10",
    )
    .option("--latency <n>", "single uploads timed one at a time for the latency figures", "10")
    .option("--backlog <n>", "also time draining a backlog of this many queued uploads (0: skip)", "0")
    .option("--upload-concurrency <n>", "uploads in flight, as `npm run seed-images` does by default", "4")
    .option(
      "--env <NAME=value>",
      "a worker setting to try, e.g. --env WORKER_CONCURRENCY=3 (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    ),
  z.object({
    args: z.tuple([z.string()]),
    rounds: wholeNumber(1),
    pillow: z.boolean().default(false),
    pillowScript: z.string(),
    peer: z.boolean().default(false),
    peerScript: z.string(),
    peerProcs: wholeNumber(1),
    peerCopies: wholeNumber(1),
    peerWarmUp: wholeNumber(0),
    latency: wholeNumber(0),
    backlog: wholeNumber(0),
    uploadConcurrency: wholeNumber(1),
    env: z.array(z.string().regex(/^[A-Z_][A-Z0-9_]*=/, "NAME=value")),
  }),
);
const workerEnv = Object.fromEntries(
  values.env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
);
const [folder] = values.args;
const rounds = values.rounds;

// What was asked for and cannot run is said first, not after minutes of measuring.
const pillowCommand = values.pillow ? findPython(values.pillowScript) : undefined;
const peerCommand = values.peer ? findPython(values.peerScript, { needsBoto3: true }) : undefined;
for (const [what, found] of [
  ["original Pillow loop (--pillow)", pillowCommand],
  ["original pipeline (--peer)", peerCommand],
] as const) {
  if (found && "notRun" in found) {
    console.error(`${what}: not run (${found.notRun})`);
    process.exit(1);
  }
}

const files = readdirSync(folder)
  .filter((f) => /\.(jpe?g|png|webp|gif|tiff?|avif)$/i.test(f))
  .sort()
  .map((name) => ({ name, body: readFileSync(path.join(folder, name)) }));
if (files.length === 0) throw new Error(`no images in ${folder}`);
const megapixels = (await Promise.all(files.map((f) => sharp(f.body).metadata()))).reduce(
  (sum, m) => sum + ((m.width ?? 0) * (m.pageHeight ?? m.height ?? 0)) / 1e6,
  0,
);
const cores = cpus().length;

console.log(
  `Benchmark: ${files.length} images (${megapixels.toFixed(0)} MP) from ${folder}/, ${cores} cores, ${rounds} alternating rounds.` +
    "\nThese machines are noisy: compare the medians and the per-round ratios, not single times.",
);

/** Reference: sharp alone, in-process, no I/O, smallest size only, both cores busy. */
async function raw(): Promise<RawRun> {
  // sharp set up as in the worker (configureSharpForWorker): one thread per image, no cache.
  sharp.concurrency(1);
  sharp.cache(false);
  const limit = pLimit(cores);
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    files.map((f) =>
      limit(() =>
        sharp(f.body, { failOn: "none" })
          .rotate()
          .resize(128, 128, { fit: "inside", withoutEnlargement: true })
          .jpeg()
          .toBuffer(),
      ),
    ),
  );
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    imagesPerSecond: files.length / seconds,
    cpuSecondsPerImage: (used.user + used.system) / 1e6 / files.length,
  };
}

interface PipelineRound {
  imagesPerSecond: number;
  latenciesMs: number[];
  workerCpuSecondsPerImage: number;
  totalCpuSecondsPerImage: number;
  /** Where the CPU went, per image: thumbnails, the worker's JS, its GC threads, the bench process. */
  cpuPerImage: { images: number; workerJs: number; workerGc: number; stackAndUploads: number };
}

/** Everything: upload → notification → SQS → worker → every size → S3 → DynamoDB. */
async function pipeline(h: Harness, round: number): Promise<PipelineRound> {
  const workerCpu = h.workerCpu();
  const ownCpu = process.cpuUsage();
  const uploadedAt = new Map<string, number>();
  const start = performance.now();
  const startWall = Date.now();
  const limit = pLimit(Number(values.uploadConcurrency));
  await Promise.all(
    files.map((f) =>
      limit(async () => {
        const key = `${h.config.uploadPrefix}r${round}/${f.name}`;
        await h.clients.s3.send(new PutObjectCommand({ Bucket: h.config.names.uploadsBucket, Key: key, Body: f.body }));
        uploadedAt.set(key, Date.now());
      }),
    ),
  );
  const uploadsDone = Date.now();
  const items = await waitForItems(h, `${h.config.uploadPrefix}r${round}/`, files.length, startWall);
  if (process.env.BENCH_DEBUG) {
    const firstItem = Math.min(...items.map((i) => Date.parse(i.processedAt)));
    console.error(`uploads done +${uploadsDone - startWall} ms, first item +${firstItem - startWall} ms`);
  }
  const lastWritten = Math.max(...items.map((i) => Date.parse(i.processedAt)));
  const seconds = (lastWritten - startWall) / 1000 || (performance.now() - start) / 1000;
  const own = process.cpuUsage(ownCpu);
  const after = h.workerCpu();
  const worker = after.total - workerCpu.total;
  const js = after.mainThread - workerCpu.mainThread;
  const gc = after.gcThreads - workerCpu.gcThreads;
  const ownSeconds = (own.user + own.system) / 1e6;
  return {
    imagesPerSecond: files.length / seconds,
    // processedAt is stamped just before the item is written; same clock as uploadedAt.
    latenciesMs: items.map((i) => Date.parse(i.processedAt) - (uploadedAt.get(i.key) ?? startWall)),
    workerCpuSecondsPerImage: worker / files.length,
    totalCpuSecondsPerImage: (worker + ownSeconds) / files.length,
    cpuPerImage: {
      images: (worker - js - gc) / files.length,
      workerJs: js / files.length,
      workerGc: gc / files.length,
      stackAndUploads: ownSeconds / files.length,
    },
  };
}

async function waitForItems(h: Harness, prefix: string, count: number, since: number): Promise<ImageItem[]> {
  let seen = 0;
  const items = await pollUntil(
    async () => {
      const recent = await allImages(h.config, h.clients, { since: new Date(since - 1000).toISOString() });
      const mine = recent.filter((i) => i.key.startsWith(prefix));
      seen = mine.length;
      if (mine.length >= count) return mine;
      if (h.worker.exitCode !== null) throw new Error(`only ${seen}/${count} items`);
      return undefined;
    },
    // Times come from the items (processedAt), not from this loop: polling rarely costs no
    // accuracy, and each poll is DynamoDB work on the same two cores.
    { deadline: Date.now() + 600_000, intervalMs: 1000 },
  );
  if (!items) throw new Error(`only ${seen}/${count} items`);
  return items;
}

/** The original project's thumbnail step as a plain Pillow loop over the folder. */
function pillow(command: PythonCommand): Measure {
  const run = spawnSync(command.python, [command.script, folder, "--procs", String(cores), "--passes", "1"], {
    encoding: "utf8",
    env: { ...process.env, ...command.env },
  });
  const match = run.stdout?.match(/([\d.]+) images\/s/);
  if (run.status === 0 && match) return measured(Number(match[1]));
  const why = run.stderr?.trim().split("\n").at(-1) || run.error?.message || `exit code ${run.status}`;
  return notRun(`${path.basename(command.script)} failed: ${why}`);
}

/** One upload at a time on an idle stack: upload complete → item readable. */
async function singleUploadLatency(h: Harness, samples: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const f = files[i % files.length] as (typeof files)[number];
    const key = `${h.config.uploadPrefix}single/${i}-${f.name}`;
    await h.clients.s3.send(new PutObjectCommand({ Bucket: h.config.names.uploadsBucket, Key: key, Body: f.body }));
    const uploaded = performance.now();
    const imageId = imageIdFor(h.config.names.uploadsBucket, key);
    while (!(await getImageItem(h.clients, h.config.names, imageId))) await new Promise((r) => setTimeout(r, 5));
    out.push(performance.now() - uploaded);
    await new Promise((r) => setTimeout(r, 300));
  }
  return out;
}

/** A backlog of small images uploaded before the worker starts, then drained. */
async function backlog(count: number) {
  const small = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#3a6" } })
    .jpeg()
    .toBuffer();
  const h = await startHarness(workerEnv, { worker: false });
  const limit = pLimit(32);
  const uploadStart = performance.now();
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      limit(() =>
        h.clients.s3.send(
          new PutObjectCommand({
            Bucket: h.config.names.uploadsBucket,
            Key: `${h.config.uploadPrefix}backlog/${i}.jpg`,
            Body: small,
          }),
        ),
      ),
    ),
  );
  const uploadSeconds = (performance.now() - uploadStart) / 1000;
  // A backlog is a full queue: wait for every upload's event before starting the worker.
  while (((await queueDepth(h.clients, h.config.names.queue))?.waiting ?? 0) < count) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const queuedSeconds = (performance.now() - uploadStart) / 1000;
  h.startWorker();
  const start = performance.now();
  const samples: { seconds: number; done: number; rssMiB: number }[] = [];
  let done = 0;
  while (done < count) {
    await new Promise((r) => setTimeout(r, 2000));
    done = (await countImages(h.config, h.clients)).total;
    samples.push({ seconds: (performance.now() - start) / 1000, done, rssMiB: Math.round(h.workerRssMiB()) });
  }
  const peak = h.workerPeakRssMiB();
  await h.stop();
  return {
    uploadSeconds: Number(uploadSeconds.toFixed(1)),
    queuedSeconds: Number(queuedSeconds.toFixed(1)),
    samples,
    peakRssMiB: Math.round(peak),
  };
}

const medianCpu = (rows: { pipeline: PipelineRound }[], key: keyof PipelineRound["cpuPerImage"]) =>
  Number(median(rows.map((r) => r.pipeline.cpuPerImage[key])).toFixed(3));

/** The default run: raw sharp, the pipeline, and what was asked for, in alternating rounds. */
async function mainBench(): Promise<Measure[]> {
  const h = await startHarness(workerEnv);
  const rows: { round: number; raw: RawRun; pipeline: PipelineRound; pillow?: Measure }[] = [];
  try {
    await raw(); // warm-up: sharp's first call loads libvips
    for (let round = 1; round <= rounds; round++) {
      const r = await raw();
      const p = await pipeline(h, round);
      const pil = pillowCommand && !("notRun" in pillowCommand) ? pillow(pillowCommand) : undefined;
      rows.push({ round, raw: r, pipeline: p, ...(pil !== undefined && { pillow: pil }) });
      console.log(
        `round ${round}: raw ${r.imagesPerSecond.toFixed(1)} img/s, pipeline ${p.imagesPerSecond.toFixed(1)} img/s` +
          (pil !== undefined ? `, pillow ${show(pil, 1)} img/s` : ""),
      );
    }
    const latency = await singleUploadLatency(h, Number(values.latency));
    const allLatencies = rows.flatMap((r) => r.pipeline.latenciesMs);
    const pillowRate = values.pillow ? medianOf(rows.map((r) => r.pillow ?? notRun("no Pillow run"))) : undefined;
    const pipelineOverPillow = values.pillow
      ? medianOf(rows.map((r) => ratio(measured(r.pipeline.imagesPerSecond), r.pillow ?? notRun("no Pillow run"))))
      : undefined;
    const rawCpu = median(rows.map((r) => r.raw.cpuSecondsPerImage));
    const workerCpu = median(rows.map((r) => r.pipeline.workerCpuSecondsPerImage));
    const result = {
      folder,
      images: files.length,
      megapixels: Number(megapixels.toFixed(1)),
      cores,
      rounds,
      thumbnailSizes: h.config.thumbnails.sizes,
      rawImagesPerSecond: median(rows.map((r) => r.raw.imagesPerSecond)),
      pipelineImagesPerSecond: median(rows.map((r) => r.pipeline.imagesPerSecond)),
      pipelineOverRaw: median(rows.map((r) => r.pipeline.imagesPerSecond / r.raw.imagesPerSecond)),
      ...(pillowRate && { pillowImagesPerSecond: pillowRate }),
      ...(pipelineOverPillow && { pipelineOverPillow }),
      burstLatencyMs: latencySummary(allLatencies, "no item was processed"),
      singleUploadLatencyMs: latencySummary(latency, "--latency 0"),
      workerPeakRssMiB: Math.round(h.workerPeakRssMiB()),
      workerCpuSecondsPerImage: Number(workerCpu.toFixed(3)),
      totalCpuSecondsPerImage: Number(median(rows.map((r) => r.pipeline.totalCpuSecondsPerImage)).toFixed(3)),
      cpuSecondsPerImage: {
        images: medianCpu(rows, "images"),
        workerJs: medianCpu(rows, "workerJs"),
        workerGc: medianCpu(rows, "workerGc"),
        stackAndUploads: medianCpu(rows, "stackAndUploads"),
        // Raw's own CPU per image (all its threads): what the thumbnails alone would need.
        raw: Number(rawCpu.toFixed(3)),
      },
      workerCpuOverRaw: Number((workerCpu / rawCpu).toFixed(2)),
      ...(Number(values.backlog) > 0 && { backlog: await backlog(Number(values.backlog)) }),
    };
    const fmt = (n: number) => n.toFixed(2);
    console.log();
    console.log(
      formatTable(
        ["measure", "median", "target"],
        [
          ["raw sharp, 128 px only (img/s)", fmt(result.rawImagesPerSecond), "reference"],
          [`pipeline, sizes ${result.thumbnailSizes.join("+")} (img/s)`, fmt(result.pipelineImagesPerSecond), ""],
          ["pipeline ÷ raw", fmt(result.pipelineOverRaw), "≥ 0.90"],
          ...(pillowRate && pipelineOverPillow
            ? [
                ["original Pillow loop (img/s)", show(pillowRate), ""],
                ["pipeline ÷ Pillow", show(pipelineOverPillow), "≥ 1.00"],
              ]
            : []),
          ["burst latency p50 / p95 / max (ms)", showLatency(result.burstLatencyMs), ""],
          ["single upload latency p50 / p95 / max (ms)", showLatency(result.singleUploadLatencyMs), "p50 ≤ 500"],
          ["worker peak RSS (MiB)", String(result.workerPeakRssMiB), "≤ 512"],
          [
            "CPU s per image: worker / all",
            `${result.workerCpuSecondsPerImage} / ${result.totalCpuSecondsPerImage}`,
            "",
          ],
          [
            "  thumbnails / worker JS / worker GC / stack+uploads",
            [
              result.cpuSecondsPerImage.images,
              result.cpuSecondsPerImage.workerJs,
              result.cpuSecondsPerImage.workerGc,
              result.cpuSecondsPerImage.stackAndUploads,
            ].join(" / "),
            `raw: ${result.cpuSecondsPerImage.raw}`,
          ],
          ["worker CPU ÷ raw sharp CPU, per image", fmt(result.workerCpuOverRaw), "≤ 1.10"],
          ...(result.backlog
            ? [
                [
                  `backlog of ${values.backlog}: uploaded / all events queued after (s)`,
                  `${result.backlog.uploadSeconds} / ${result.backlog.queuedSeconds}`,
                  "",
                ],
                [`backlog of ${values.backlog}: img/s per 2 s interval`, rates(result.backlog.samples), "steady"],
                [
                  "backlog: worker RSS min / max (MiB)",
                  `${Math.min(...result.backlog.samples.map((s) => s.rssMiB))} / ${Math.max(...result.backlog.samples.map((s) => s.rssMiB))}`,
                  "flat",
                ],
              ]
            : []),
        ],
      ),
    );
    console.log(`\n${JSON.stringify(result)}`);
    return [pillowRate, pipelineOverPillow].filter((m): m is Measure => m !== undefined);
  } finally {
    await h.stop();
  }
}

/** --peer: the project's worker and the original project's, alternating on one stack. */
async function peerBench(command: PythonCommand): Promise<Measure[]> {
  const copies = Math.max(1, Number(values.peerCopies));
  const procs = Math.max(1, Number(values.peerProcs));
  console.log(
    `--peer: ${files.length * copies} uploads per run (the folder ${copies}×, after ${Math.min(files.length, Math.max(0, Number(values.peerWarmUp)))} untimed); the project's worker against ${path.basename(command.script)} (${procs} processes), one after the other on the same stack.`,
  );
  const h = await startHarness(workerEnv, { worker: false });
  let out: PeerRound[];
  try {
    await raw(); // warm-up: sharp's first call loads libvips
    out = await comparePeer({
      h,
      files,
      copies,
      warmUp: Math.max(0, Number(values.peerWarmUp)),
      rounds,
      uploadConcurrency: Number(values.uploadConcurrency),
      peer: command,
      procs,
      raw,
      log: (line) => console.log(line),
    });
  } finally {
    await h.stop();
  }
  const report = peerReport(out, rounds);
  console.log();
  console.log(formatTable(["", "project (img/s)", "original (img/s)", "project ÷ original"], report.rows));
  console.log();
  console.log(formatTable(["CPU s per image (median)", "value", "target"], report.cpu));
  console.log(`\n${JSON.stringify(report.json)}`);
  return report.measures;
}

const measures = peerCommand && !("notRun" in peerCommand) ? await peerBench(peerCommand) : await mainBench();
const missing = notRunReasons(measures);
if (missing.length > 0) {
  console.error(`\nNot every measurement asked for could run: ${missing.join("; ")}`);
  process.exitCode = 1;
}

function rates(samples: { seconds: number; done: number }[]): string {
  const out: number[] = [];
  // The last interval ends with the backlog, part of the way through: left out.
  for (let i = 1; i < samples.length - 1; i++) {
    const a = samples[i - 1] as { seconds: number; done: number };
    const b = samples[i] as { seconds: number; done: number };
    out.push((b.done - a.done) / (b.seconds - a.seconds));
  }
  return out.length > 8
    ? `${out
        .slice(0, 4)
        .map((r) => r.toFixed(0))
        .join(" ")} … ${out
        .slice(-4)
        .map((r) => r.toFixed(0))
        .join(" ")}`
    : out.map((r) => r.toFixed(0)).join(" ");
}
