import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Clients, createClients, destroyClients } from "../../src/aws/clients.ts";
import type { Config } from "../../src/config.ts";
import { describeResources, ensureResources, teardownResources } from "../../src/provision/resources.ts";
import { testConfig } from "../helpers.ts";
import { missingFeature } from "../localstack-only/backend.ts";

// Asked of the backend, not guessed from the endpoint: AWS_ENDPOINT_URL may be LocalStack or `npm run stack`.
const alarmsExpected = (await missingFeature("cloudwatch")) === undefined;

describe("bootstrap, resources and teardown", () => {
  let config: Config;
  let clients: Clients;
  beforeAll(() => {
    config = testConfig();
    clients = createClients(config);
  });
  afterAll(() => destroyClients(clients));

  it("creates everything once, and nothing on a second run", async () => {
    // Without CloudWatch (the embedded stack), alarms are reported as unavailable.
    const alarmState = alarmsExpected ? "created" : "unavailable";
    const first = await ensureResources(config, clients);
    expect(first.map((r) => [r.kind, r.state])).toEqual([
      ["s3-bucket", "created"],
      ["s3-bucket", "created"],
      ["sqs-queue", "created"],
      ["sqs-queue", "created"],
      ["dynamodb-table", "created"],
      ["sns-topic", "created"],
      ["cloudwatch-alarm", alarmState],
      ["cloudwatch-alarm", alarmState],
      ["s3-notification", "created"],
    ]);
    const second = await ensureResources(config, clients);
    expect(second.filter((r) => r.state !== "exists" && r.state !== "unavailable")).toEqual([]);
  });

  it("lists buckets, queues, table, topic, alarms and the bucket notification, as bootstrap does", async () => {
    const resources = await describeResources(config, clients);
    expect(resources.map((r) => [r.kind, r.name, r.state])).toEqual([
      ["s3-bucket", config.names.uploadsBucket, "present"],
      ["s3-bucket", config.names.thumbnailsBucket, "present"],
      ["sqs-queue", config.names.queue, "present"],
      ["sqs-queue", config.names.deadLetterQueue, "present"],
      ["dynamodb-table", config.names.table, "present"],
      ["sns-topic", config.names.failureTopic, "present"],
      ["cloudwatch-alarm", config.names.failureAlarm, alarmsExpected ? "present" : "unavailable"],
      ["cloudwatch-alarm", config.names.deadLetterAlarm, alarmsExpected ? "present" : "unavailable"],
      ["s3-notification", `${config.names.uploadsBucket} → ${config.names.queue}`, "present"],
    ]);
    // A bucket notification is a setting of the bucket: it has no ARN of its own.
    for (const r of resources.filter((r) => r.state === "present" && r.kind !== "s3-notification")) {
      expect(r.arn, r.name).toMatch(/^arn:aws:/);
    }
    expect(resources.find((r) => r.kind === "sqs-queue" && r.name === config.names.queue)?.url).toMatch(/^https?:\/\//);
  });

  it("teardown leaves nothing behind", async () => {
    const removed = await teardownResources(config, clients);
    expect(removed.length).toBeGreaterThanOrEqual(6);
    const after = await describeResources(config, clients);
    expect(after.filter((r) => r.state === "present")).toEqual([]);
    const buckets = (await clients.s3.send(new ListBucketsCommand({}))).Buckets ?? [];
    expect(buckets.filter((b) => b.Name?.startsWith(config.names.prefix))).toEqual([]);
    const queues = (await clients.sqs.send(new ListQueuesCommand({ QueueNamePrefix: config.names.prefix }))).QueueUrls;
    expect(queues ?? []).toEqual([]);
    expect(await teardownResources(config, clients)).toEqual([]);
  });
});
