import { CreateTableCommand, DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
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

    // Both indexes sharded over listShard; byTakenDate is sparse (items without takenAt are not in it).
    const table = (await clients.dynamo.send(new DescribeTableCommand({ TableName: config.names.table }))).Table;
    const indexes = (table?.GlobalSecondaryIndexes ?? []).map((i) => [
      i.IndexName,
      i.KeySchema?.map((k) => `${k.AttributeName} ${k.KeyType}`),
      i.Projection?.ProjectionType,
    ]);
    expect(indexes.sort()).toEqual([
      ["byTakenDate", ["listShard HASH", "takenAt RANGE"], "ALL"],
      ["byUploadDate", ["listShard HASH", "uploadDate RANGE"], "ALL"],
    ]);
  });

  it("adds byTakenDate to a table from before it existed, or says clearly that this backend cannot", async () => {
    const old = testConfig();
    const oldClients = createClients(old);
    try {
      await oldClients.dynamo.send(
        new CreateTableCommand({
          TableName: old.names.table,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [
            { AttributeName: "imageId", AttributeType: "S" },
            { AttributeName: "listShard", AttributeType: "S" },
            { AttributeName: "uploadDate", AttributeType: "S" },
          ],
          KeySchema: [{ AttributeName: "imageId", KeyType: "HASH" }],
          GlobalSecondaryIndexes: [
            {
              IndexName: "byUploadDate",
              KeySchema: [
                { AttributeName: "listShard", KeyType: "HASH" },
                { AttributeName: "uploadDate", KeyType: "RANGE" },
              ],
              Projection: { ProjectionType: "ALL" },
            },
          ],
        }),
      );
      const table = (await ensureResources(old, oldClients)).find((r) => r.kind === "dynamodb-table");
      const described = (await describeResources(old, oldClients)).find((r) => r.kind === "dynamodb-table");
      const after = await oldClients.dynamo.send(new DescribeTableCommand({ TableName: old.names.table }));
      const has = (after.Table?.GlobalSecondaryIndexes ?? []).some((i) => i.IndexName === "byTakenDate");
      if (inject("backend") === "embedded") {
        // dynalite accepts UpdateTable's GlobalSecondaryIndexUpdates but ignores Create.
        expect(has).toBe(false);
        expect(table?.detail).toMatch(/index byTakenDate NOT added: .*dynalite.*fresh DATA_DIR/);
        expect(described?.detail).toBe("indexes byUploadDate, byTakenDate (missing)");
      } else if (inject("backend") === "localstack") {
        expect(has).toBe(true);
        expect(table).toMatchObject({ state: "updated" });
        expect(table?.detail).toContain("index byTakenDate added");
      } else {
        expect(has || /NOT added/.test(table?.detail ?? "")).toBe(true);
      }
    } finally {
      await teardownResources(old, oldClients);
      destroyClients(oldClients);
    }
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
    expect(resources.find((r) => r.kind === "dynamodb-table")?.detail).toMatch(
      /^indexes byUploadDate, byTakenDate( \(CREATING\))?$/,
    );
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
