// `npm run seed-images` where the folder is not there or is a file: the "not found" and usage exit codes, one line.
import { execFile } from "node:child_process";
import path from "node:path";
import { expect, test } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

function seed(folder: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli/seed.ts", folder],
      // Nothing listens on port 9 (discard): an upload attempt would fail as "Nothing answers".
      { cwd: root, env: { ...process.env, AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_REGION: "us-east-1" } },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });
}

test("seed-images of a folder that does not exist exits 3 with one line, before connecting", async () => {
  const run = await seed("no-such-folder");
  expect(run.stderr).toBe("No such folder: no-such-folder\n");
  expect(run.code).toBe(3);
  expect(run.stdout).toBe("");
});

test("seed-images of a file, not a folder, says so and exits 2 (usage), before connecting", async () => {
  const run = await seed("package.json");
  expect(run.stderr).toBe("Not a folder: package.json (seed-images uploads the images in a folder)\n");
  expect(run.code).toBe(2);
  expect(run.stdout).toBe("");
});
