import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import { createHandler } from "../../src/pipeline/handler.ts";
import { createPipeline, jpeg, type Pipeline, sqsRecord } from "../helpers.ts";

// The handler exactly as Lambda calls it: an SQS event in, batchItemFailures out.
describe("Lambda handler", () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await createPipeline();
  });
  afterAll(() => p.close());

  it("processes the original project's plain message and reports only the bad record", async () => {
    const key = await p.upload("plain.jpg", await jpeg(256, 256));
    const handler = createHandler({ config: p.config, clients: p.clients, logger: silentLogger });
    const event: SQSEvent = {
      Records: [
        sqsRecord("good", { bucket_name: p.config.names.uploadsBucket, image_key: key }),
        sqsRecord("garbage", "this is not json"),
        sqsRecord("test-event", { Service: "Amazon S3", Event: "s3:TestEvent" }),
      ],
    };
    const response = await handler(event);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "garbage" }] });
    expect(await p.waitForItem(key, undefined, 1000)).toMatchObject({ status: "PROCESSED", width: 256 });
  });

  it("reports a record for retry when AWS fails underneath it (missing bucket → transient)", async () => {
    const handler = createHandler({
      config: { ...p.config, names: { ...p.config.names, thumbnailsBucket: `${p.config.names.prefix}-nope` } },
      clients: p.clients,
      logger: silentLogger,
    });
    const key = await p.upload("retry.jpg", await jpeg(64, 64));
    const response = await handler({
      Records: [sqsRecord("m1", { bucket_name: p.config.names.uploadsBucket, image_key: key })],
    });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }]);
  });

  it("skips an object that no longer exists without failing", async () => {
    const handler = createHandler({ config: p.config, clients: p.clients, logger: silentLogger });
    const response = await handler({
      Records: [
        sqsRecord("gone", { bucket_name: p.config.names.uploadsBucket, image_key: "uploads/never-uploaded.jpg" }),
      ],
    });
    expect(response.batchItemFailures).toEqual([]);
  });
});
