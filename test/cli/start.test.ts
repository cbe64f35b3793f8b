// `npm start` as a user runs it (npm, then npm's script shell, then the program), stopped the ways
// users, IDE stop buttons and process managers stop it: every process of the tree must be gone
// within 10 s and both ports free, and the next `npm start` must work.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { skipUnlessSupported } from "../skip.ts";
import { freePort } from "../stack-process.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** What issue 12 asks of every way to stop it. */
const STOP_WITHIN_MS = 10_000;
/** Start-up on a busy machine: the stack, bootstrap, then two more Node processes. */
const START_WITHIN_MS = 120_000;

const noProc = process.platform === "linux" ? undefined : "reads the process tree from /proc (Linux only)";
const dataDirs: string[] = [];
const started: Run[] = [];

interface Run {
  npm: ChildProcess;
  ports: { embedded: number; web: number };
  output: string[];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** `npm start` from the project folder, on its own ports and data folder; the rest of the environment is the run's, cleared of pipeline settings. */
function npmStart(ports: Run["ports"], dataDir: string): Run {
  const npm = spawn("npm", ["start"], {
    cwd: ROOT,
    env: {
      ...process.env,
      EMBEDDED_PORT: String(ports.embedded),
      WEB_PORT: String(ports.web),
      DATA_DIR: dataDir,
      WORKER_WAIT_SECONDS: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so that afterAll can clean up whatever a failed test leaves.
    detached: true,
  });
  const run = { npm, ports, output: [] as string[] };
  npm.stdout?.on("data", (chunk: Buffer) => run.output.push(chunk.toString()));
  npm.stderr?.on("data", (chunk: Buffer) => run.output.push(chunk.toString()));
  started.push(run);
  return run;
}

/** PIDs of the processes below `pid` (parent links from /proc/<pid>/stat). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = statField(Number(entry), 1);
    if (ppid === undefined) continue;
    children.set(Number(ppid), [...(children.get(Number(ppid)) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** A field of /proc/<pid>/stat after "pid (comm)": 0 = state, 1 = ppid. */
function statField(pid: number, index: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[index];
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

/** Running: exists and is not a zombie (an orphan's zombie waits for a PID 1 that may never reap it). */
function alive(pid: number): boolean {
  const state = statField(pid, 0);
  return state !== undefined && state !== "Z" && state !== "X";
}

async function waitFor(what: string, run: Run, timeoutMs: number, done: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what} (not within ${timeoutMs} ms). Output:\n${run.output.join("")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Ready: the worker polls, the gallery answers; returns the tree's processes by role. */
async function ready(run: Run): Promise<{ start: number; worker: number; web: number; all: number[] }> {
  const text = () => run.output.join("");
  await waitFor("npm start did not get ready", run, START_WITHIN_MS, async () => {
    if (run.npm.exitCode !== null) throw new Error(`npm start exited ${run.npm.exitCode}:\n${text()}`);
    return /Ready in [\d.]+ s/.test(text()) && /"worker started"/.test(text()) && /"gallery listening"/.test(text());
  });
  const all = descendants(run.npm.pid ?? 0);
  const find = (pattern: RegExp) => all.find((pid) => pattern.test(commandLine(pid))) ?? 0;
  const tree = {
    start: find(/src\/cli\/start\.ts/),
    worker: find(/worker\/index\.ts/),
    web: find(/web\/server\.ts/),
    all: [run.npm.pid ?? 0, ...all],
  };
  expect(
    tree.start && tree.worker && tree.web,
    `processes of npm start: ${all.map(commandLine).join("\n")}`,
  ).toBeTruthy();
  const gallery = await fetch(`http://127.0.0.1:${run.ports.web}/`);
  expect(gallery.status).toBe(200);
  return tree;
}

async function expectAllGone(run: Run, pids: number[]): Promise<void> {
  await waitFor(
    `still running: ${pids
      .filter(alive)
      .map((pid) => `${pid} ${commandLine(pid)}`)
      .join("; ")}`,
    run,
    STOP_WITHIN_MS,
    () => pids.every((pid) => !alive(pid)),
  );
  expect(await portFree(run.ports.embedded), `port ${run.ports.embedded} (stack) free`).toBe(true);
  expect(await portFree(run.ports.web), `port ${run.ports.web} (gallery) free`).toBe(true);
}

async function fresh(): Promise<{ ports: Run["ports"]; dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "npm-start-"));
  dataDirs.push(dataDir);
  return { ports: { embedded: await freePort(), web: await freePort() }, dataDir };
}

afterEach(() => {
  // A failed test must not leave its tree behind: kill its process group (orphans keep it).
  for (const run of started.splice(0)) {
    try {
      process.kill(-(run.npm.pid ?? 0), "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});
afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

describe("npm start stops whole", { timeout: START_WITHIN_MS * 2 + STOP_WITHIN_MS * 3 }, () => {
  it("on SIGTERM to npm (IDE stop buttons, process managers): every process exits and both ports are free within 10 s", async (ctx) => {
    skipUnlessSupported(ctx, noProc);
    const { ports, dataDir } = await fresh();
    const run = npmStart(ports, dataDir);
    const tree = await ready(run);
    process.kill(run.npm.pid ?? 0, "SIGTERM");
    await expectAllGone(run, tree.all);
    expect(run.output.join("")).toMatch(/"worker stopped"/);
  });

  it("on SIGINT to npm alone: the same", async (ctx) => {
    skipUnlessSupported(ctx, noProc);
    const { ports, dataDir } = await fresh();
    const run = npmStart(ports, dataDir);
    const tree = await ready(run);
    process.kill(run.npm.pid ?? 0, "SIGINT");
    await expectAllGone(run, tree.all);
  });

  it("on kill -9 of npm: the start process notices and stops everything", async (ctx) => {
    skipUnlessSupported(ctx, noProc);
    const { ports, dataDir } = await fresh();
    const run = npmStart(ports, dataDir);
    const tree = await ready(run);
    process.kill(run.npm.pid ?? 0, "SIGKILL");
    await expectAllGone(run, tree.all);
  });

  it("on kill -9 of the start process: no worker or gallery is left, and the next npm start works (and stops on a signal to its gallery)", async (ctx) => {
    skipUnlessSupported(ctx, noProc);
    const { ports, dataDir } = await fresh();
    const first = npmStart(ports, dataDir);
    const tree = await ready(first);
    process.kill(tree.start, "SIGKILL");
    await expectAllGone(first, tree.all);

    const second = npmStart(ports, dataDir);
    const again = await ready(second);
    expect(second.output.join("")).toMatch(/Nothing to create/);
    // A signal to any process of the tree stops all of it, not only a signal to npm.
    process.kill(again.web, "SIGTERM");
    await expectAllGone(second, again.all);
  });
});
