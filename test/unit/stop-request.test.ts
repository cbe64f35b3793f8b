import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// onStopRequest in a real child process with an IPC channel, as `npm start` runs the worker
// and the gallery. Their listeners are registered only after their start-up awaits; a parent
// killed (kill -9) during that start-up must still stop them.
const processModule = fileURLToPath(new URL("../../src/cli/process.ts", import.meta.url));
const child = `
const { onStopRequest } = await import(${JSON.stringify(processModule)});
// The start-up of the gallery or the worker: the parent goes away meanwhile.
await new Promise((resolve) => process.once("disconnect", resolve));
await new Promise((resolve) => setTimeout(resolve, 200));
onStopRequest((reason) => { console.log("stop:", reason); process.exit(0); });
setInterval(() => {}, 1000);
`;

describe("onStopRequest", () => {
  it("stops a child whose parent's IPC channel closed before it registered", async () => {
    const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    let output = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    // What a dead parent looks like to the child: its end of the channel closes.
    proc.disconnect();
    const code = await new Promise<number | string | null>((resolve) => {
      const timer = setTimeout(() => {
        proc.kill("SIGKILL");
        resolve("still running after 20 s");
      }, 20_000);
      proc.once("exit", (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(code).toBe(0);
    expect(output).toContain("stop: parent exited");
  }, 30_000);
});
