import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { STACK_PROCESS, WORKER_PROCESS } from "../../src/process-tuning.ts";

describe("process settings in package.json", () => {
  const scripts: Record<string, string> = JSON.parse(
    readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
  ).scripts;

  /** Node flags must come before the entry point, or tsx hands them to the script as arguments. */
  function expectFlagsBeforeEntry(script: string, entry: string, flags: readonly string[]) {
    const words = String(scripts[script]).split(/\s+/);
    const at = words.indexOf(entry);
    expect(at, `${script} runs ${entry}`).toBeGreaterThan(0);
    for (const flag of flags) {
      expect(words, `${script}: ${flag}`).toContain(flag);
      expect(words.indexOf(flag)).toBeLessThan(at);
    }
  }

  it("`npm run worker` (and so the Docker image) passes the worker's flags, as npm start does", () => {
    expectFlagsBeforeEntry("worker", "worker/index.ts", WORKER_PROCESS.nodeFlags);
  });

  it("every script that hosts the embedded stack passes the stack's flags", () => {
    expectFlagsBeforeEntry("start", "src/cli/start.ts", STACK_PROCESS.nodeFlags);
    expectFlagsBeforeEntry("stack", "src/cli/stack.ts", STACK_PROCESS.nodeFlags);
    expectFlagsBeforeEntry("bench", "test/bench/bench.ts", STACK_PROCESS.nodeFlags);
  });

  it("the long-running scripts exec Node itself: npm's SIGTERM and SIGINT reach the program, with no shell or tsx process between", () => {
    // dash, npm's script shell on Debian, neither execs a lone command nor passes signals on; the tsx
    // CLI is one more process that outlives a kill -9 of its parent. test/cli/start.test.ts runs it.
    for (const script of ["start", "stack", "worker", "web"]) {
      expect(scripts[script], script).toMatch(/^exec node (--[\w-]+=\S+ )*--import tsx \S+\.ts$/);
    }
  });
});
