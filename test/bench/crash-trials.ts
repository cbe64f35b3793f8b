// Crash trials, by hand: `node_modules/.bin/tsx test/bench/crash-trials.ts` (TRIALS=10, DELAY_MS=0,
// EMBEDDED_PORT=4566 by default). Each trial starts the stack process (`npm run stack`'s entry)
// on a fresh DATA_DIR, sends 50 concurrent PutObjects, SIGKILLs its process group DELAY_MS after
// the last 2xx, starts it again and counts the acknowledged uploads whose S3 event never reaches
// the queue. Prints one line per trial and the total; exits 1 if anything was lost.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  burst,
  createBucketWithQueue,
  keysOnQueue,
  spawnStack,
  stackClients,
  waitUntilHealthy,
} from "../stack-process.ts";
import { exited } from "../worker-process.ts";

const port = Number(process.env.EMBEDDED_PORT || 4566);
const trials = Number(process.env.TRIALS || 10);
const delayMs = Number(process.env.DELAY_MS || 0);
const endpoint = `http://localhost:${port}`;

let acknowledged = 0;
let lost = 0;
for (let trial = 1; trial <= trials; trial++) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "crash-trial-"));
  let stack = spawnStack(port, dataDir);
  try {
    await waitUntilHealthy(endpoint, stack);
    const clients = stackClients(endpoint);
    const queueUrl = await createBucketWithQueue(clients);
    const keys = Array.from({ length: 50 }, (_, i) => `uploads/trial-${trial}-${i}.jpg`);
    const acked = await burst(clients.s3, keys);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    process.kill(-(stack.pid ?? 0), "SIGKILL");
    await exited(stack, 15_000);

    stack = spawnStack(port, dataDir);
    await waitUntilHealthy(endpoint, stack);
    const seen = await keysOnQueue(clients.sqs, queueUrl, new Set(acked), 30_000);
    const missing = acked.filter((key) => !seen.has(key));
    acknowledged += acked.length;
    lost += missing.length;
    console.log(`trial ${trial}: ${acked.length} acknowledged, ${missing.length} lost`);
  } finally {
    if (stack.exitCode === null && stack.signalCode === null) process.kill(-(stack.pid ?? 0), "SIGKILL");
    await exited(stack, 15_000).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
console.log(
  `${trials} trials, SIGKILL ${delayMs} ms after the last 2xx: ${acknowledged} uploads acknowledged, ${lost} lost`,
);
process.exit(lost > 0 ? 1 : 0);
