// The handler's per-record rules, in milliseconds: what is retried (reported in
// batchItemFailures), what is recorded as FAILED, what is skipped. The AWS clients are
// fakes injected through HandlerDeps, holding objects and items in memory: a unit test of
// the handler's decisions, not of the SDK. test/integration/handler.test.ts runs the same
// handler against the real SDK and the embedded stack.
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { S3Event, SQSEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import type { Clients } from "../../src/aws/clients.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger, silentLogger } from "../../src/logger.ts";
import { s3EventMessage } from "../../src/pipeline/events.ts";
import { createHandler } from "../../src/pipeline/handler.ts";
import type { ImageItem } from "../../src/store/metadata.ts";
import { jpeg, sqsRecord } from "../helpers.ts";

const config = loadConfig({ THUMBNAIL_SIZES: "64", MAX_IMAGE_BYTES: "1000000" });
const { uploadsBucket, thumbnailsBucket } = config.names;

interface StoredObject {
  body: Buffer;
  eTag: string;
}

/** What a fake AWS saw and holds. `fail` makes a call throw (by command name). */
interface FakeAws {
  clients: Clients;
  objects: Map<string, StoredObject>;
  items: ImageItem[];
  thumbnails: string[];
  fail: Partial<Record<"GetObject" | "PutObject" | "PutItem", unknown>>;
}

function fakeAws(): FakeAws {
  const aws: FakeAws = { objects: new Map(), items: [], thumbnails: [], fail: {}, clients: {} as Clients };
  const s3 = {
    async send(command: unknown) {
      if (command instanceof GetObjectCommand) {
        if (aws.fail.GetObject) throw aws.fail.GetObject;
        const object = aws.objects.get(`${command.input.Bucket}/${command.input.Key}`);
        if (!object) throw new NoSuchKey({ message: "The specified key does not exist.", $metadata: {} });
        return {
          ETag: `"${object.eTag}"`,
          ContentLength: object.body.length,
          ContentType: "image/jpeg",
          Body: {
            transformToByteArray: async () => new Uint8Array(object.body),
            transformToWebStream: () => new ReadableStream(),
          },
        };
      }
      if (command instanceof HeadObjectCommand) {
        const object = aws.objects.get(`${command.input.Bucket}/${command.input.Key}`);
        if (!object) throw new NotFound({ message: "Not Found", $metadata: {} });
        return { ETag: `"${object.eTag}"`, ContentLength: object.body.length, LastModified: new Date() };
      }
      if (command instanceof DeleteObjectsCommand) return {};
      if (command instanceof PutObjectCommand) {
        if (aws.fail.PutObject) throw aws.fail.PutObject;
        aws.thumbnails.push(`${command.input.Bucket}/${command.input.Key}`);
        return {};
      }
      throw new Error(`the fake S3 does not serve ${(command as object).constructor.name}`);
    },
  };
  const doc = {
    async send(command: unknown) {
      if (command instanceof GetCommand) {
        return { Item: aws.items.findLast((i) => i.imageId === command.input.Key?.imageId) };
      }
      if (command instanceof PutCommand) {
        if (aws.fail.PutItem) throw aws.fail.PutItem;
        const item = command.input.Item as ImageItem;
        const old = aws.items.findLast((i) => i.imageId === item.imageId);
        aws.items.push(item);
        return { Attributes: old };
      }
      throw new Error(`the fake DynamoDB does not serve ${(command as object).constructor.name}`);
    },
  };
  aws.clients = { s3, doc } as unknown as Clients;
  return aws;
}

/** An S3 ObjectCreated event for one key, as S3 sends it (the record factory of these tests). */
function s3Event(bucket: string, key: string, eTag: string, size = 1): S3Event {
  return s3EventMessage({
    bucket,
    key,
    eventName: "ObjectCreated:Put",
    eventTime: "2024-05-01T12:00:00.000Z",
    region: "us-east-1",
    object: { size, eTag, sequencer: "0A" },
    configurationId: "uploads-to-queue",
    principalId: "test",
    ownerId: "test",
    requestId: "1",
    hostId: "1",
  });
}

async function upload(aws: FakeAws, key: string, body: Buffer, eTag = "e1"): Promise<S3Event> {
  aws.objects.set(`${uploadsBucket}/${key}`, { body, eTag });
  return s3Event(uploadsBucket, key, eTag, body.length);
}

function batch(...bodies: [string, unknown][]): SQSEvent {
  return { Records: bodies.map(([id, body]) => sqsRecord(id, body)) };
}

const transient = Object.assign(new Error("Service Unavailable"), {
  name: "ServiceUnavailable",
  $metadata: { httpStatusCode: 503 },
});

describe("the handler's per-record rules (fake clients)", () => {
  it("processes an upload: thumbnails written, the item PROCESSED, nothing to retry", async () => {
    // Prepare
    const aws = fakeAws();
    const event = await upload(aws, "uploads/cat.jpg", await jpeg(96, 64));
    // Act
    const response = await createHandler({ config, clients: aws.clients, logger: silentLogger })(batch(["m1", event]));
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(aws.items).toMatchObject([{ status: "PROCESSED", name: "cat.jpg", width: 96, height: 64 }]);
    expect(aws.thumbnails).toHaveLength(1);
    expect(aws.thumbnails[0]).toMatch(new RegExp(`^${thumbnailsBucket}/[0-9a-f]{32}/.+/64\\.`));
  });

  it("records a file that is not an image as FAILED, alerts once, and does not retry it", async () => {
    const aws = fakeAws();
    const event = await upload(aws, "uploads/notes.jpg", Buffer.from("hello, I am a text file"));
    const alerted: ImageItem[] = [];
    const handler = createHandler({
      config,
      clients: aws.clients,
      logger: silentLogger,
      notifyFailure: async (item) => {
        alerted.push(item);
      },
    });

    const response = await handler(batch(["m1", event]));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(aws.items).toMatchObject([{ status: "FAILED", errorCode: "NOT_AN_IMAGE" }]);
    expect(alerted.map((i) => i.name)).toEqual(["notes.jpg"]);
    expect(aws.thumbnails).toEqual([]);
  });

  it("records an object over MAX_IMAGE_BYTES as FAILED without decoding it", async () => {
    const aws = fakeAws();
    const event = await upload(aws, "uploads/huge.jpg", Buffer.alloc(1_000_001));

    const response = await createHandler({ config, clients: aws.clients, logger: silentLogger })(batch(["m1", event]));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(aws.items).toMatchObject([{ status: "FAILED", errorCode: "TOO_LARGE", bytes: 1_000_001 }]);
  });

  it("keeps a failure recorded when its alert cannot be sent: the alert never causes a retry", async () => {
    const aws = fakeAws();
    const event = await upload(aws, "uploads/empty.jpg", Buffer.alloc(0));
    const handler = createHandler({
      config,
      clients: aws.clients,
      logger: silentLogger,
      notifyFailure: () => Promise.reject(transient),
    });

    const response = await handler(batch(["m1", event]));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(aws.items).toMatchObject([{ status: "FAILED", errorCode: "EMPTY_OBJECT" }]);
  });

  it("retries a record when S3 fails underneath it, and only that record", async () => {
    const aws = fakeAws();
    const good = await upload(aws, "uploads/good.jpg", await jpeg(32, 32));
    const handler = createHandler({ config, clients: aws.clients, logger: silentLogger });
    aws.fail.PutObject = transient;

    const response = await handler(batch(["thumbnail-write-fails", good], ["test-event", { Event: "s3:TestEvent" }]));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "thumbnail-write-fails" }] });
    expect(aws.items).toEqual([]);
  });

  it("retries when DynamoDB fails (the thumbnails are rewritten next time: same keys)", async () => {
    const aws = fakeAws();
    const event = await upload(aws, "uploads/a.jpg", await jpeg(32, 32));
    aws.fail.PutItem = transient;

    const response = await createHandler({ config, clients: aws.clients, logger: silentLogger })(batch(["m1", event]));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m1" }] });
  });

  it("reports a message that is not JSON for retry, so that it ends in the dead-letter queue", async () => {
    const aws = fakeAws();

    const response = await createHandler({ config, clients: aws.clients, logger: silentLogger })(
      batch(["garbage", "this is not json"]),
    );

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "garbage" }] });
    expect(aws.items).toEqual([]);
  });

  it.each([
    ["S3's test event", () => ({ Service: "Amazon S3", Event: "s3:TestEvent" })],
    ["an object in the thumbnails bucket", () => s3Event(thumbnailsBucket, "0123/64.jpg", "e1")],
    ["a key outside the upload prefix", () => s3Event(uploadsBucket, "elsewhere/cat.jpg", "e1")],
    ["an object deleted since its event (NoSuchKey)", () => s3Event(uploadsBucket, "uploads/gone.jpg", "e1")],
  ])("skips %s: nothing written, nothing retried", async (_what, body) => {
    const aws = fakeAws();

    const response = await createHandler({ config, clients: aws.clients, logger: silentLogger })(batch(["m1", body()]));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(aws.items).toEqual([]);
    expect(aws.thumbnails).toEqual([]);
  });

  it("skips an event whose object was replaced since (another ETag): the newer event brings it", async () => {
    const aws = fakeAws();
    await upload(aws, "uploads/cat.jpg", await jpeg(32, 32), "newer");
    const stale = s3Event(uploadsBucket, "uploads/cat.jpg", "older");

    const response = await createHandler({ config, clients: aws.clients, logger: silentLogger })(batch(["m1", stale]));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(aws.thumbnails).toEqual([]);
    expect(aws.items).toEqual([]);
  });

  it("says in the log why it skipped a message: a plain message for an object that no longer exists", async () => {
    const aws = fakeAws();
    const lines: string[] = [];
    const logger = createLogger("info", {}, (line) => lines.push(line));
    const plain = { bucket_name: uploadsBucket, image_key: "uploads/gone.jpg" };

    const response = await createHandler({ config, clients: aws.clients, logger })(batch(["m1", plain]));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(aws.items).toEqual([]);
    const skipped = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.msg === "skipped");
    expect(skipped).toMatchObject({ messageId: "m1", key: "uploads/gone.jpg", reason: "object no longer exists" });
  });

  it("skips without retrying when a newer upload is already recorded (the condition on the sequencer fails)", async () => {
    const aws = fakeAws();
    const event = await upload(aws, "uploads/cat.jpg", await jpeg(32, 32));
    aws.fail.PutItem = new ConditionalCheckFailedException({
      message: "The conditional request failed",
      $metadata: {},
    });

    const response = await createHandler({ config, clients: aws.clients, logger: silentLogger })(batch(["m1", event]));

    expect(response).toEqual({ batchItemFailures: [] });
  });
});
