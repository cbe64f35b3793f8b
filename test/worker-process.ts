import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Config } from "../src/config.ts";
import { withOutput } from "./stack-process.ts";

/** The worker entry point as its own process (so it can be killed), on a test pipeline's resources. */
export function spawnWorker(config: Config, env: Record<string, string> = {}): ChildProcess & { output: string[] } {
  const endpoint = config.target.kind === "emulator" ? config.target.endpoint : "";
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("../worker/index.ts", import.meta.url))],
    {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: config.region,
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        NAME_PREFIX: config.names.prefix,
        TABLE_NAME: config.names.table,
        VISIBILITY_TIMEOUT_SECONDS: String(config.queue.visibilityTimeoutSeconds),
        MAX_RECEIVE_COUNT: String(config.queue.maxReceiveCount),
        WORKER_WAIT_SECONDS: "1",
        LOG_LEVEL: "info",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return withOutput(child);
}

export function exited(
  child: ChildProcess,
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    const timer = setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Runs an entry point (e.g. src/cli/status.ts) to completion against a test pipeline. */
export function runScript(
  config: Config,
  script: string,
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const endpoint = config.target.kind === "emulator" ? config.target.endpoint : "";
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL(`../${script}`, import.meta.url)), ...args],
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL: endpoint,
          AWS_REGION: config.region,
          NAME_PREFIX: config.names.prefix,
          TABLE_NAME: config.names.table,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
