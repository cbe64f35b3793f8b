import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Clients, createClients, destroyClients } from "../../src/aws/clients.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { type EmbeddedStack, startEmbeddedStack } from "../../src/embedded/stack.ts";
import { silentLogger } from "../../src/logger.ts";
import { WORKER_PROCESS } from "../../src/process-tuning.ts";
import { ensureResources } from "../../src/provision/resources.ts";

/**
 * A throwaway pipeline for measurements: an in-memory embedded stack on a free port, fresh
 * resources, and the worker as its own process so its memory and CPU can be read.
 */
export interface Harness {
  stack: EmbeddedStack;
  config: Config;
  clients: Clients;
  worker: ChildProcess;
  /** Starts the worker when none is running (the harness was started without one, or it was stopped). */
  startWorker(): void;
  /** Stops the worker as SIGTERM does (it finishes what it holds); resolves when it has exited. */
  stopWorker(): Promise<void>;
  /** Current resident memory of the worker process (VmRSS), in MiB. */
  workerRssMiB(): number;
  /** Peak resident memory of the worker process so far (VmHWM), in MiB. */
  workerPeakRssMiB(): number;
  /** User + system CPU seconds the worker process has used: in all, on its JavaScript thread, on V8's GC threads. */
  workerCpu(): CpuSplit;
  stop(): Promise<void>;
}

export async function startHarness(
  env: Record<string, string> = {},
  options: { worker?: boolean } = {},
): Promise<Harness> {
  const stack = await startEmbeddedStack({
    port: 0,
    host: "127.0.0.1",
    region: "us-east-1",
    dataDir: undefined,
    logger: silentLogger,
  });
  // Measured as npm start runs it (src/process-tuning.ts).
  const workerEnv = {
    AWS_ENDPOINT_URL: stack.endpoint,
    NAME_PREFIX: "bench",
    LOG_LEVEL: "warn",
    ...WORKER_PROCESS.env,
    ...env,
  };
  const config = loadConfig(workerEnv);
  const clients = createClients(config);
  await ensureResources(config, clients);
  const spawnWorker = () =>
    spawn(
      process.execPath,
      [
        ...WORKER_PROCESS.nodeFlags,
        ...workerNodeArgs(),
        "--import",
        "tsx",
        fileURLToPath(new URL("../../worker/index.ts", import.meta.url)),
      ],
      {
        env: { ...process.env, ...workerEnv },
        stdio: ["ignore", process.env.BENCH_DEBUG ? "inherit" : "ignore", "inherit"],
      },
    );
  let worker = options.worker === false ? undefined : spawnWorker();
  // Never leave an orphaned worker behind, whatever ends this process.
  process.once("exit", () => worker?.kill("SIGKILL"));
  const pid = () => worker?.pid ?? 0;
  return {
    stack,
    config,
    clients,
    get worker() {
      if (!worker) throw new Error("the worker has not been started");
      return worker;
    },
    startWorker() {
      if (!worker || worker.exitCode !== null || worker.signalCode !== null) worker = spawnWorker();
    },
    stopWorker: () => stopProcess(worker),
    workerRssMiB: () => procStatusKiB(pid(), "VmRSS") / 1024,
    workerPeakRssMiB: () => procStatusKiB(pid(), "VmHWM") / 1024,
    workerCpu: () => procCpuSplit(pid()),
    async stop() {
      await stopProcess(worker);
      destroyClients(clients);
      await stack.stop();
    },
  };
}

/** SIGTERM, then resolves when the process has exited (at once if it already has). */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exit = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exit;
}

function procStatusKiB(pid: number, field: string): number {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return Number(match?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Fields 14 and 15 of a /proc stat file: utime and stime in clock ticks (100 per second). */
function statCpuSeconds(file: string): number {
  try {
    const fields = readFileSync(file, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export interface CpuSplit {
  total: number;
  mainThread: number;
  gcThreads: number;
}

/**
 * The process total counts threads that have exited (libvips starts and ends its own);
 * the main thread (tid = pid) and V8's helpers ("V8Worker") live as long as the process.
 */
export function procCpuSplit(pid: number): CpuSplit {
  let gcThreads = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").startsWith("V8Worker")) {
        gcThreads += statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
      }
    }
  } catch {
    // The worker has exited: nothing more to count.
  }
  return {
    total: statCpuSeconds(`/proc/${pid}/stat`),
    mainThread: statCpuSeconds(`/proc/${pid}/task/${pid}/stat`),
    gcThreads,
  };
}

/**
 * Node flags to add for the worker, after the defaults (a later V8 flag wins), e.g.
 * BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof" or "--initial-old-space-size=128".
 */
function workerNodeArgs(): string[] {
  return (process.env.BENCH_WORKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
}
