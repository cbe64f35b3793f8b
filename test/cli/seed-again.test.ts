// `npm run seed-images` of a folder it has seeded before: the worker skips the versions it has
// recorded already, and the command reports them instead of waiting for results that never come.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createPipeline, jpeg, type Pipeline, runCli } from "../helpers.ts";

let p: Pipeline;
let folder: string;

beforeAll(async () => {
  p = await createPipeline({ worker: true });
  folder = mkdtempSync(path.join(tmpdir(), "seed-again-"));
  writeFileSync(path.join(folder, "again.jpg"), await jpeg(320, 240));
});

afterAll(async () => {
  await p?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

function seed() {
  return runCli("src/cli/seed.ts", p.config, [folder, "--timeout", "20"], { UPLOAD_PREFIX: p.config.uploadPrefix });
}

test("seeding the same folder twice reports the images processed both times, without waiting for a timeout", async () => {
  const first = await seed();
  expect(first.stdout, first.stderr).toContain("1 processed, 0 failed, 0 timed out (of 1).");
  const again = await seed();
  expect(again.stdout, again.stderr).toContain("1 processed, 0 failed, 0 timed out (of 1).");
  expect(again.code).toBe(0);
}, 90_000);
