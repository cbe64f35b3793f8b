// npm run burst [-- --count 200 --hostile 0.1]: a burst of real and hostile uploads through
// the whole pipeline; prints items by status, what is left on the queues, the worker's peak
// memory and whether it ever exited.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { z } from "zod";
import { queueDepth } from "../../src/aws/queues.ts";
import { command, parseCommand, wholeNumber } from "../../src/cli/command.ts";
import { countImages } from "../../src/store/query.ts";
import { formatTable } from "../../src/table.ts";
import { fixtures } from "../fixtures.ts";
import { startHarness } from "./harness.ts";

const values = parseCommand(
  command(
    "burst",
    "A burst of real and hostile uploads through the whole pipeline on the embedded stack; prints items by status, " +
      "what is left on the queues, the worker's peak memory and whether it ever exited.",
  )
    .option("--count <n>", "uploads in the burst", "200")
    .option("--hostile <fraction>", "the share of them that are hostile (bad images, bombs...)", "0.1")
    .option("--folder <folder>", "where the real images come from", "img"),
  z.object({ count: wholeNumber(1), hostile: z.coerce.number().min(0).max(1), folder: z.string() }),
);
const count = values.count;
const hostileCount = Math.round(count * values.hostile);
const photos = readdirSync(values.folder)
  .filter((f) => /\.(jpe?g|png|webp|gif|tiff?|avif)$/i.test(f))
  .map((f) => ({ name: f, body: readFileSync(path.join(values.folder, f)) }));
const hostile = fixtures.filter((f) => f.expect.status === "FAILED");
const bodies = await Promise.all(hostile.map((f) => f.make()));

const h = await startHarness({ MAX_IMAGE_BYTES: String(20 * 1024 * 1024) });
let exits = 0;
h.worker.on("exit", () => exits++);
const started = performance.now();
const limit = pLimit(16);
await Promise.all(
  Array.from({ length: count }, (_, i) =>
    limit(() => {
      const bad =
        i % Math.max(1, Math.floor(count / Math.max(1, hostileCount))) === 0 &&
        i / (count / hostileCount) < hostileCount;
      const source = bad
        ? { name: hostile[i % hostile.length]?.key ?? "x", body: bodies[i % hostile.length] }
        : photos[i % photos.length];
      return h.clients.s3.send(
        new PutObjectCommand({
          Bucket: h.config.names.uploadsBucket,
          Key: `${h.config.uploadPrefix}burst-${String(i).padStart(4, "0")}-${source?.name}`,
          Body: source?.body,
        }),
      );
    }),
  ),
);
const uploaded = performance.now();
let counts = await countImages(h.config, h.clients);
while (counts.total < count && performance.now() - uploaded < 300_000 && h.worker.exitCode === null) {
  await new Promise((r) => setTimeout(r, 500));
  counts = await countImages(h.config, h.clients);
}
const done = performance.now();
await new Promise((r) => setTimeout(r, 1500)); // let the last deletes land
const [queue, dlq] = await Promise.all([
  queueDepth(h.clients, h.config.names.queue),
  queueDepth(h.clients, h.config.names.deadLetterQueue),
]);
const report = {
  uploads: count,
  hostileUploads: hostileCount,
  items: counts,
  queueLeft: queue,
  deadLetters: dlq,
  workerPeakRssMiB: Math.round(h.workerPeakRssMiB()),
  workerCpuSeconds: h.workerCpu().total,
  workerExited: exits > 0 || h.worker.exitCode !== null,
  uploadSeconds: Number(((uploaded - started) / 1000).toFixed(1)),
  drainSeconds: Number(((done - uploaded) / 1000).toFixed(1)),
};
await h.stop();
console.log(
  formatTable(
    ["uploads", "hostile", "PROCESSED", "FAILED", "queue left", "DLQ", "peak RSS MiB", "worker exited"],
    [
      [
        count,
        hostileCount,
        counts.PROCESSED,
        counts.FAILED,
        (queue?.waiting ?? 0) + (queue?.inFlight ?? 0),
        (dlq?.waiting ?? 0) + (dlq?.inFlight ?? 0),
        report.workerPeakRssMiB,
        report.workerExited ? "yes" : "no",
      ],
    ],
  ),
);
console.log(JSON.stringify(report));
process.exitCode = counts.total === count && !report.workerExited ? 0 : 1;
