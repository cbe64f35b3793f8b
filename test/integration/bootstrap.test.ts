import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Clients, createClients, destroyClients } from "../../src/aws/clients.ts";
import type { Config } from "../../src/config.ts";
import { describeResources, ensureResources, teardownResources } from "../../src/provision/resources.ts";
import { testConfig } from "../helpers.ts";

describe("bootstrap, resources and teardown", () => {
  let config: Config;
  let clients: Clients;
  beforeAll(() => {
    config = testConfig();
    clients = createClients(config);
  });
  afterAll(() => destroyClients(clients));

  it("creates everything once, and nothing on a second run", async () => {
    // The embedded stack has no CloudWatch: alarms are reported as unavailable there.
    const alarmState = inject("backend") === "embedded" ? "unavailable" : "created";
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

  it("lists buckets, queue, dead-letter queue, table and topic with their ARNs", async () => {
    const resources = await describeResources(config, clients);
    expect(resources.map((r) => [r.kind, r.name, r.state])).toEqual([
      ["s3-bucket", config.names.uploadsBucket, "present"],
      ["s3-bucket", config.names.thumbnailsBucket, "present"],
      ["sqs-queue", config.names.queue, "present"],
      ["sqs-queue", config.names.deadLetterQueue, "present"],
      ["dynamodb-table", config.names.table, "present"],
      ["sns-topic", config.names.failureTopic, "present"],
      ["cloudwatch-alarm", config.names.failureAlarm, inject("backend") === "embedded" ? "unavailable" : "present"],
      ["cloudwatch-alarm", config.names.deadLetterAlarm, inject("backend") === "embedded" ? "unavailable" : "present"],
    ]);
    for (const r of resources.filter((r) => r.state === "present")) expect(r.arn).toMatch(/^arn:aws:/);
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
