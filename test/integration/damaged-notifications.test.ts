import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeStartError, startEmbeddedStack } from "../../src/embedded/stack.ts";
import { silentLogger } from "../../src/logger.ts";

describe("a damaged notifications.json in DATA_DIR", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "pipeline-notifications-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const file = path.join(dataDir, "notifications.json");
  const start = () =>
    startEmbeddedStack({ port: 0, host: "127.0.0.1", region: "us-east-1", dataDir, logger: silentLogger });

  it.each([
    ["cut short", '{"image-pipeline-uploads": {"ru', "it is not JSON"],
    ["not a setup", "[1, 2]", "it is not a notification setup"],
  ])("%s: start-up names the file and how to recover, and starts once it is moved away", async (_, text, why) => {
    writeFileSync(file, text);
    const error = await start().then(
      async (stack) => {
        await stack.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeDefined();
    const message = describeStartError(error, 0);
    expect(message).toContain(`${file} is damaged (${why}`);
    expect(message).toContain("Move it away");
    expect(message.split("\n")).toHaveLength(1);

    renameSync(file, `${file}.damaged`);
    const stack = await start();
    await stack.stop();
  });
});
