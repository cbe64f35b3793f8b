// Every npm script answers `-- --help` with its usage and exit code 0, and starts nothing:
// a worker, gallery or stack that started instead would never exit and time the run out.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { afterAll, describe, expect, test } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
// All but `check`, which chains lint, format:check and typecheck before `npm test --help`:
// its help would come only after a whole type check, and each of its parts is tested here.
const scripts = Object.keys(
  (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts,
).filter((s) => s !== "check");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
/** The tools' own scripts: every other script is one of the project's commands. */
const TOOLS = ["test", "lint", "format", "format:check", "typecheck", "check"];
const commands = scripts.filter((s) => !TOOLS.includes(s));

// Where a command that started something would go: its endpoint, the embedded stack's and the
// gallery's ports all point at a listener of its own, which holds the port (so a server could
// not bind it) and counts who connects; its DATA_DIR must stay empty.
interface Trap {
  port: number;
  connections: number;
}
const servers = await Promise.all(
  scripts.map(async (script) => {
    const trap: Trap = { port: 0, connections: 0 };
    const server = createServer((socket) => {
      trap.connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    trap.port = (server.address() as { port: number }).port;
    return { script, trap, server };
  }),
);
const traps = new Map(servers.map(({ script, trap }) => [script, trap]));
const scratch = mkdtempSync(path.join(tmpdir(), "help-"));
afterAll(() => {
  for (const { server } of servers) server.close();
  rmSync(scratch, { recursive: true, force: true });
});
const dataDir = (script: string) => path.join(scratch, script.replace(/\W/g, "_"));

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** `npm run <script> -- --help` with no stack, no .env values, and nothing but its trap to connect to. */
function help(script: string, timeout: number): Promise<Run> {
  const trap = traps.get(script) as Trap;
  return new Promise((resolve) => {
    execFile(
      npm,
      ["run", "--silent", script, "--", "--help"],
      {
        cwd: root,
        timeout,
        killSignal: "SIGKILL",
        // Only what npm and the project's own Node need: the user's AWS_* and ports stay out.
        env: {
          PATH: `${path.join(root, "node_modules/.bin")}${path.delimiter}${process.env.PATH}`,
          HOME: process.env.HOME ?? root,
          AWS_ENDPOINT_URL: `http://127.0.0.1:${trap.port}`,
          EMBEDDED_PORT: String(trap.port),
          WEB_PORT: String(trap.port),
          DATA_DIR: dataDir(script),
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (error.code ?? error.signal ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// A few at a time: each is a Node process compiling TypeScript.
const limit = pLimit(3);
const runs = new Map(scripts.map((s) => [s, limit(() => help(s, 90_000))]));

describe("npm run <script> -- --help", () => {
  test.each(scripts)("%s prints its usage and exits 0", { timeout: 300_000 }, async (script) => {
    const run = await (runs.get(script) as Promise<Run>);
    expect(run.code, `${script}: ${run.stderr.slice(0, 500)}`).toBe(0);
    // tsc's help says "COMMON COMMANDS" where the others say "Usage:".
    expect(run.stdout).toMatch(/usage:|common commands/i);
  });

  test("the project's own commands list their options, defaults and exit codes", { timeout: 300_000 }, async () => {
    const status = await (runs.get("status") as Promise<Run>);
    expect(status.stdout).toContain("--failures <n>");
    expect(status.stdout).toContain('(default: "5")');
    for (const script of ["start", "stack", "worker", "web", "bootstrap", "resources", "deploy", "teardown"]) {
      const run = await (runs.get(script) as Promise<Run>);
      expect(run.stdout, script).toContain(`Usage: npm run ${script} --`);
      expect(run.stdout, script).toContain("Exit codes: 0 ok, 1 error");
    }
  });

  test.each(commands)(
    "%s lists its options and exit codes, and starts nothing",
    { timeout: 300_000 },
    async (script) => {
      const run = await (runs.get(script) as Promise<Run>);
      expect(run.stdout).toContain(`Usage: npm run ${script} --`);
      expect(run.stdout).toContain("Options:");
      expect(run.stdout).toContain("-h, --help");
      expect(run.stdout).toContain("Exit codes: 0 ok, 1 error");
      expect(traps.get(script)?.connections, `${script} connected to the endpoint`).toBe(0);
      let written: string[] = [];
      try {
        written = readdirSync(dataDir(script), { recursive: true }).map(String);
      } catch {
        // Not even created: nothing written.
      }
      expect(written, `${script} wrote under DATA_DIR`).toEqual([]);
    },
  );
});
