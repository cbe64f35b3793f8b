// npm start [-- --fresh]: the whole pipeline on the embedded AWS stack, in one command.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClients, destroyClients } from "../aws/clients.ts";
import { withEndpoint } from "../config.ts";
import { describeStartError, embeddedStackOptions, startEmbeddedStack } from "../embedded/stack.ts";
import { createLogger } from "../logger.ts";
import { WORKER_PROCESS } from "../process-tuning.ts";
import { formatResources, summarizeBootstrap } from "../provision/report.ts";
import { ensureResources } from "../provision/resources.ts";
import { configFromEnvironment, fail } from "./env.ts";

const { values } = parseArgs({
  options: {
    fresh: { type: "boolean", default: false },
    "no-worker": { type: "boolean", default: false },
  },
});
const started = performance.now();
const baseConfig = configFromEnvironment();
const logger = createLogger(baseConfig.logLevel, { service: "stack" });

const stack = await startEmbeddedStack(embeddedStackOptions(baseConfig, logger, { fresh: values.fresh })).catch(
  (error: unknown) => fail(describeStartError(error, baseConfig.embedded.port)),
);
const config = withEndpoint(baseConfig, stack.endpoint);

console.log(`Embedded AWS stack (S3, SQS, SNS, DynamoDB) on ${stack.endpoint}; state in ${config.embedded.dataDir}/`);
const clients = createClients(config);
try {
  const resources = await ensureResources(config, clients);
  console.log(formatResources(resources));
  console.log(summarizeBootstrap(resources));
} catch (error) {
  await stack.stop();
  fail(`Bootstrap failed: ${(error as Error).message}`);
} finally {
  destroyClients(clients);
}

/** Entry points run as children, exactly as `npm run worker` would run them. */
const children = new Map<string, ChildProcess>();
let shuttingDown = false;

/** Quick exits in a row per child: a crash is restarted, a child that cannot start is not. */
const quickExits = new Map<string, number>();

function run(name: string, script: string, tuning: { nodeFlags: readonly string[]; env: object }): void {
  const startedAt = Date.now();
  const entry = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, [...tuning.nodeFlags, "--import", "tsx", entry], {
    env: { ...tuning.env, ...process.env, AWS_ENDPOINT_URL: stack.endpoint },
    stdio: "inherit",
  });
  children.set(name, child);
  child.on("exit", (code, signal) => {
    children.delete(name);
    if (shuttingDown) return;
    const quick = Date.now() - startedAt < 5000 ? (quickExits.get(name) ?? 0) + 1 : 0;
    quickExits.set(name, quick);
    if (quick >= 3) {
      // E.g. the gallery's port is taken: retrying forever would only repeat the message.
      console.error(`${name} failed to start 3 times in a row (see its message above); stopping.`);
      void shutdown(1);
      return;
    }
    // A crash must not stop the pipeline: restart, as a service manager would.
    logger.warn(`${name} exited; restarting in 1 s`, { code, signal });
    setTimeout(() => run(name, script, tuning), 1000);
  });
}

if (!values["no-worker"]) run("worker", "../../worker/index.ts", WORKER_PROCESS);
run("web", "../../web/server.ts", { nodeFlags: [], env: {} });

console.log(`Ready in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
console.log(`  AWS endpoint:  ${stack.endpoint}  (AWS_ENDPOINT_URL)`);
console.log(`  Upload to:     s3://${config.names.uploadsBucket}/${config.uploadPrefix}`);
console.log(`  Gallery:       http://localhost:${config.web.port}`);
console.log("  Next, in another terminal: npm run seed-images");
console.log("Ctrl-C stops everything; uploads and results are kept for the next start.");

async function shutdown(exitCode = 0): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log("Stopping: letting the worker finish what it holds...");
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        }),
    ),
  );
  await stack.stop();
  process.exit(exitCode);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
