import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
} from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { describeStartError, startEmbeddedStack } from "../../src/embedded/stack.ts";
import { silentLogger } from "../../src/logger.ts";
import { BUCKET, createBucketWithQueue, stackClients } from "../stack-process.ts";

/** An embedded stack of the test's own on a free port, keeping its state in `dataDir`. */
function stackOn(dataDir: string) {
  return startEmbeddedStack({ port: 0, host: "127.0.0.1", region: "us-east-1", dataDir, logger: silentLogger });
}

describe("a damaged notifications.json in DATA_DIR", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "pipeline-notifications-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const file = path.join(dataDir, "notifications.json");
  const start = () => stackOn(dataDir);

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

describe("a notification setup that cannot be saved durably", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "pipeline-notifications-save-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const file = path.join(dataDir, "notifications.json");

  it("is answered with an error, and the saved setup stays as it was (never half written)", async () => {
    const stack = await stackOn(dataDir);
    try {
      const clients = stackClients(stack.endpoint);
      await createBucketWithQueue(clients);
      const saved = readFileSync(file, "utf8");
      // The save writes <file>.tmp first: make that fail, as a full disk (ENOSPC) would.
      mkdirSync(`${file}.tmp`);
      await expect(
        clients.s3.send(
          new PutBucketNotificationConfigurationCommand({ Bucket: BUCKET, NotificationConfiguration: {} }),
        ),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });
      expect(readFileSync(file, "utf8")).toBe(saved);
      const now = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: BUCKET }));
      expect(now.QueueConfigurations?.length).toBe(1);
    } finally {
      await stack.stop();
    }
  });
});
