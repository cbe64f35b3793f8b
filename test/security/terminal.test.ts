import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ImageItem, ImageStatus, imageIdFor, listShardFor, putImageItem } from "../../src/store/metadata.ts";
import { createPipeline, type Pipeline } from "../helpers.ts";
import { runScript } from "../worker-process.ts";

// Clears the screen, retitles the terminal, rings the bell; U+009B is an 8-bit CSI, U+202E
// reverses the rest of the line ("gpj.exe" reads as "exe.jpg").
const HOSTILE = "\u001b[2J\u001b]0;owned\u0007\u009b31m\u202egpj.exe";

describe("CLIs print data from the stack inertly", () => {
  let p: Pipeline;
  let item: ImageItem;

  beforeAll(async () => {
    p = await createPipeline();
    const key = `${p.config.uploadPrefix}${HOSTILE}`;
    const imageId = imageIdFor(p.config.names.uploadsBucket, key);
    const now = new Date().toISOString();
    item = {
      imageId,
      bucket: p.config.names.uploadsBucket,
      key,
      name: HOSTILE,
      status: ImageStatus.Failed,
      errorCode: "NOT_AN_IMAGE",
      errorMessage: `could not decode ${HOSTILE}`,
      bytes: 12,
      sequencer: "0".repeat(32),
      uploadDate: now,
      listShard: listShardFor(imageId),
      processedAt: now,
      processingMs: 1,
    };
    await putImageItem(p.clients, p.config.names, item);
  });
  afterAll(async () => {
    await p?.close();
  });

  const expectInert = (output: string) => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point.
    expect(output).not.toMatch(/[\u001b\u0007\u009b\u202e]/);
    expect(output).toContain("\\x1b[2J");
    expect(output).toContain("\\u202e");
  };

  it("npm run status escapes the names and reasons of failures", async () => {
    const run = await runScript(p.config, "src/cli/status.ts");
    expect(run.code).toBe(0);
    expectInert(run.stdout);
  });

  it("npm run status --json keeps the value but no raw control or bidi characters", async () => {
    const run = await runScript(p.config, "src/cli/status.ts", ["--json"]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point.
    expect(run.stdout).not.toMatch(/[\u001b\u0007\u009b\u202e]/);
    expect(JSON.parse(run.stdout).lastFailures[0].name).toBe(HOSTILE);
  });

  it("images list and images get escape keys, names and messages", async () => {
    const list = await runScript(p.config, "src/cli/images.ts", ["list", "--status", "failed"]);
    expect(list.code).toBe(0);
    expectInert(list.stdout);
    const get = await runScript(p.config, "src/cli/images.ts", ["get", item.imageId]);
    expect(get.code).toBe(0);
    expectInert(get.stdout);
  });

  it("an error quoting the user's argument is escaped too", async () => {
    const run = await runScript(p.config, "src/cli/images.ts", ["get", `missing${HOSTILE}`]);
    expect(run.code).toBe(3);
    expectInert(run.stderr);
  });
});
