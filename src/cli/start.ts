// npm start [-- --fresh]: the whole pipeline on the embedded AWS stack, in one command.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { createClients, destroyClients } from "../aws/clients.ts";
import { withEndpoint } from "../config.ts";
import { describeStartError, type EmbeddedStack, embeddedStackOptions, startEmbeddedStack } from "../embedded/stack.ts";
import { createLogger } from "../logger.ts";
import { WORKER_PROCESS } from "../process-tuning.ts";
import { formatResources, summarizeBootstrap } from "../provision/report.ts";
import { ensureResources } from "../provision/resources.ts";
import { command, parseCommand } from "./command.ts";
import { configFromEnvironment, fail } from "./env.ts";
import { onStopRequest, STOP_SIGNALS, secondsSinceCommandStart } from "./process.ts";

const values = parseCommand(
  command(
    "start",
    "The whole pipeline in one command: the embedded AWS stack, bootstrap, the worker and the gallery. Ctrl-C stops everything.",
  )
    .option("--fresh", "start empty: delete the stack's saved state first")
    .option("--no-worker", "start everything but the worker"),
  z.object({ fresh: z.boolean().default(false), worker: z.boolean().default(true) }),
);
const baseConfig = configFromEnvironment();
const logger = createLogger(baseConfig.logLevel, { service: "stack" });

/** Entry points run as children, exactly as `npm run worker` would run them. */
const children = new Map<string, ChildProcess>();
let shuttingDown = false;
let stack: EmbeddedStack | undefined;
let stackStopped: Promise<void> | undefined;
const stopStack = () => {
  stackStopped ??= stack?.stop() ?? Promise.resolve();
  return stackStopped;
};

/**
 * A child gets SIGTERM and this long to finish what it holds (the worker: its images in
 * flight) before SIGKILL; what it had not finished comes back from the queue after the
 * visibility timeout. With the stack's own stop, `npm start` is gone within 10 s.
 */
const CHILD_STOP_GRACE_MS = 6000;

// From the very start: a Ctrl-C, a `kill` (of npm, which passes SIGINT and SIGTERM on, or of
// this process), a closed terminal or the death of npm stops everything this process started.
onStopRequest((reason) => void shutdown(0, reason));

stack = await startEmbeddedStack(embeddedStackOptions(baseConfig, logger, { fresh: values.fresh })).catch(
  (error: unknown) => fail(describeStartError(error, baseConfig.embedded.port)),
);
const { endpoint } = stack;
const config = withEndpoint(baseConfig, endpoint);

console.log(`Embedded AWS stack (S3, SQS, SNS, DynamoDB) on ${endpoint}; state in ${config.embedded.dataDir}/`);
const clients = createClients(config);
try {
  const resources = await ensureResources(config, clients);
  console.log(formatResources(resources));
  console.log(summarizeBootstrap(resources));
} catch (error) {
  // Stopped during bootstrap: shutdown() owns the exit.
  if (!shuttingDown) {
    await stopStack();
    fail(`Bootstrap failed: ${(error as Error).message}`);
  }
} finally {
  destroyClients(clients);
}

/** Quick exits in a row per child: a crash is restarted, a child that cannot start is not. */
const quickExits = new Map<string, number>();

function run(name: string, script: string, tuning: { nodeFlags: readonly string[]; env: object }): void {
  const startedAt = Date.now();
  const entry = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, [...tuning.nodeFlags, "--import", "tsx", entry], {
    env: { ...tuning.env, ...process.env, AWS_ENDPOINT_URL: endpoint },
    // The IPC channel is the child's lifeline: it closes when this process dies, even by kill -9.
    stdio: ["inherit", "inherit", "inherit", "ipc"],
  });
  children.set(name, child);
  child.on("exit", (code, signal) => {
    children.delete(name);
    if (shuttingDown) return;
    // A child that exits 0 or on a stop signal was asked to stop (`kill <its pid>`): stop the
    // whole pipeline, as for a signal to this process. Anything else is a crash.
    if (code === 0 || (STOP_SIGNALS as readonly string[]).includes(signal ?? "")) {
      console.log(`${name} stopped (${signal ?? "exit 0"}); stopping everything.`);
      void shutdown(0, `${name} stopped`);
      return;
    }
    const quick = Date.now() - startedAt < 5000 ? (quickExits.get(name) ?? 0) + 1 : 0;
    quickExits.set(name, quick);
    if (quick >= 3) {
      // E.g. the gallery's port is taken: retrying forever would only repeat the message.
      console.error(`${name} failed to start 3 times in a row (see its message above); stopping.`);
      void shutdown(1, `${name} could not start`);
      return;
    }
    // A crash must not stop the pipeline: restart, as a service manager would.
    logger.warn(`${name} exited; restarting in 1 s`, { code, signal });
    setTimeout(() => {
      if (!shuttingDown) run(name, script, tuning);
    }, 1000);
  });
}

if (!shuttingDown) {
  if (values.worker) run("worker", "../../worker/index.ts", WORKER_PROCESS);
  run("web", "../../web/server.ts", { nodeFlags: [], env: {} });
  // From the user's Enter, npm's own start-up included (see secondsSinceCommandStart).
  console.log(`Ready in ${secondsSinceCommandStart().toFixed(1)} s.`);
  console.log(`  AWS endpoint:  ${endpoint}  (AWS_ENDPOINT_URL)`);
  console.log(`  Upload to:     s3://${config.names.uploadsBucket}/${config.uploadPrefix}`);
  console.log(`  Gallery:       http://localhost:${config.web.port}`);
  console.log("  Next, in another terminal: npm run seed-images");
  console.log("Ctrl-C stops everything; uploads and results are kept for the next start.");
}

async function shutdown(exitCode: number, reason: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`Stopping (${reason}): letting the worker finish what it holds...`);
  await Promise.all([...children.entries()].map(([name, child]) => stopChild(name, child)));
  await stopStack();
  process.exit(exitCode);
}

function stopChild(name: string, child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => {
      console.error(`${name} did not stop within ${CHILD_STOP_GRACE_MS / 1000} s; killing it.`);
      child.kill("SIGKILL");
    }, CHILD_STOP_GRACE_MS);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
