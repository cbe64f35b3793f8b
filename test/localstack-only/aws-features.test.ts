// What only LocalStack or AWS has: CloudWatch alarms, and S3 itself keeping and sending bucket
// notifications. On the embedded stack these tests are reported as skipped, with the reason.
import { DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetBucketNotificationConfigurationCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findTopic } from "../../src/aws/lookups.ts";
import { parseMessageBody } from "../../src/pipeline/events.ts";
import { createPipeline, drainQueue, type Pipeline } from "../helpers.ts";
import { skipUnlessSupported } from "../skip.ts";
import { missingFeature } from "./backend.ts";

const noCloudWatch = await missingFeature("cloudwatch");
const noS3Notifications = await missingFeature("s3");

describe("on LocalStack or AWS", () => {
  let p: Pipeline | undefined;
  // One bootstrapped pipeline, and only on a backend where some test here runs.
  beforeAll(async () => {
    if (!noCloudWatch || !noS3Notifications) p = await createPipeline();
  });
  afterAll(() => p?.close());
  const pipeline = (): Pipeline => {
    if (!p) throw new Error("no pipeline: beforeAll did not bootstrap one");
    return p;
  };

  it("bootstrap creates the failure and dead-letter alarms, both notifying the failure topic", async (ctx) => {
    skipUnlessSupported(ctx, noCloudWatch);
    const { config, clients } = pipeline();
    const { names } = config;
    const topicArn = await findTopic(clients, names.failureTopic);
    const { MetricAlarms = [] } = await clients.cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: [names.failureAlarm, names.deadLetterAlarm] }),
    );
    const byName = new Map(MetricAlarms.map((a) => [a.AlarmName, a]));
    expect([...byName.keys()].sort()).toEqual([names.deadLetterAlarm, names.failureAlarm].sort());
    for (const alarm of MetricAlarms) expect(alarm.AlarmActions, alarm.AlarmName).toEqual([topicArn]);
    // The dead-letter alarm must watch this pipeline's DLQ, not the main queue.
    expect(byName.get(names.deadLetterAlarm)?.Dimensions).toEqual([
      { Name: "QueueName", Value: names.deadLetterQueue },
    ]);
  });

  it("S3 keeps bootstrap's rule: created objects under uploads/ go to the upload queue", async (ctx) => {
    skipUnlessSupported(ctx, noS3Notifications);
    const { config, clients, queueUrl } = pipeline();
    const [rule, ...others] =
      (await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: config.names.uploadsBucket })))
        .QueueConfigurations ?? [];
    const { Attributes } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
    );
    expect(others).toEqual([]);
    expect(rule?.QueueArn).toBe(Attributes?.QueueArn);
    expect(rule?.Events).toEqual(["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]);
    expect(rule?.Filter?.Key?.FilterRules?.map((r) => [r.Name?.toLowerCase(), r.Value])).toEqual([
      ["prefix", config.uploadPrefix],
    ]);
  });

  it("S3 itself sends one event per upload under uploads/, naming the rule, in the shape the handler parses", async (ctx) => {
    skipUnlessSupported(ctx, noS3Notifications);
    const { config, clients, queueUrl } = pipeline();
    const bucket = config.names.uploadsBucket;
    await drainQueue(clients, queueUrl); // s3:TestEvent from saving the configuration
    await clients.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: `${config.uploadPrefix}real s3+event.jpg`, Body: "x" }),
    );
    await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "elsewhere/ignored.jpg", Body: "x" }));

    const bodies = await drainQueue(clients, queueUrl, 3);
    const records = bodies.flatMap((body) => (JSON.parse(body) as { Records?: unknown[] }).Records ?? []);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ eventSource: "aws:s3", s3: { configurationId: "uploads-to-queue" } });
    const objects = bodies.flatMap((body) => {
      const parsed = parseMessageBody(body);
      return parsed.kind === "objects" ? parsed.objects : [];
    });
    expect(objects.map((o) => [o.bucket, o.key, o.eventName])).toEqual([
      [bucket, `${config.uploadPrefix}real s3+event.jpg`, "ObjectCreated:Put"],
    ]);
  });
});
