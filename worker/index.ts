// npm run worker: long-poll the queue and process uploads until SIGINT/SIGTERM.

import { LambdaClient } from "@aws-sdk/client-lambda";
import { z } from "zod";
import { clientOptions, createClients, destroyClients } from "../src/aws/clients.ts";
import { command, parseCommand } from "../src/cli/command.ts";
import { configFromEnvironment } from "../src/cli/env.ts";
import { onStopRequest } from "../src/cli/process.ts";
import { describeTarget } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import { createMetrics } from "../src/pipeline/metrics.ts";
import { configureSharpForWorker } from "../src/pipeline/thumbnails.ts";
import { startWorker } from "../src/pipeline/worker.ts";
import { warnIfLambdaConsumesQueue } from "../src/provision/deploy/mappings.ts";

parseCommand(
  command(
    "worker",
    "Long-polls the upload queue and turns each upload into thumbnails and a DynamoDB item, until SIGINT or SIGTERM " +
      "(then it finishes what it holds and exits 0).",
  ).addHelpText("after", "\nWORKER_CONCURRENCY, VISIBILITY_TIMEOUT_SECONDS, THUMBNAIL_SIZES...: see .env.example."),
  z.object({}),
);
const config = configFromEnvironment();
configureSharpForWorker();
const logger = createLogger(config.logLevel, { service: "worker", pid: process.pid });
const clients = createClients(config);
// Only to warn when a Lambda function consumes the same queue (mappings.ts).
const lambda = new LambdaClient(clientOptions(config));
const abort = new AbortController();

logger.info("connecting", { endpoint: describeTarget(config), queue: config.names.queue });
const metrics = createMetrics(config.names.prefix, (line) => process.stdout.write(`${line}\n`));
const worker = startWorker({ config, clients, logger, metrics, signal: abort.signal });
void worker
  .then(async ({ queueArn }) => {
    if (queueArn) await warnIfLambdaConsumesQueue(lambda, { name: config.names.queue, arn: queueArn }, logger);
  })
  .catch(() => {});

let stopping = false;
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info("stopping: finishing in-flight images", { reason });
  abort.abort();
  try {
    await (await worker).stop();
  } catch {
    // Stopped before the queue was found: nothing in flight.
  }
  destroyClients(clients);
  lambda.destroy();
  process.exit(0);
}
// A signal, or npm start (its parent) gone even by kill -9: finish what is in flight, then exit.
onStopRequest((reason) => void shutdown(reason));

worker.catch((error: unknown) => {
  if (stopping) return;
  logger.error("worker could not start", { reason: (error as Error).message });
  process.exit(1);
});
