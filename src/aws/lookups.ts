// Run-time look-ups of the pipeline's resources by name: what the worker, the CLI, the
// gallery and the embedded edge need to find; provisioning (src/provision/) creates them.
import { DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { HeadBucketCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { paginateListTopics } from "@aws-sdk/client-sns";
import { GetQueueAttributesCommand, GetQueueUrlCommand, type QueueAttributeName } from "@aws-sdk/client-sqs";
import type { Config } from "../config.ts";
import type { Clients } from "./clients.ts";
import { isNotFound, isUnavailable } from "./errors.ts";

/** True when the bucket exists (HeadBucket answers 2xx); false on 404 / NoSuchBucket. */
export async function bucketExists(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Whether the object exists (HeadObject); errors other than not-found are thrown. */
export async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** The queue's URL, or undefined when no queue of that name exists. */
export async function queueUrl(clients: Clients, name: string): Promise<string | undefined> {
  try {
    return (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The queue's attributes as SQS returns them (strings); `names` defaults to all of them. */
export async function queueAttributes(
  clients: Clients,
  url: string,
  names: QueueAttributeName[] = ["All"],
): Promise<Record<string, string>> {
  const result = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names }));
  return result.Attributes ?? {};
}

/** The queue's ARN (`arn:aws:sqs:region:account:name`), from its URL; undefined if SQS gives none. */
export async function queueArn(clients: Clients, url: string): Promise<string | undefined> {
  return (await queueAttributes(clients, url, ["QueueArn"])).QueueArn;
}

/** The ARN of the SNS topic with this name, or undefined; SNS can only list topics, page by page. */
export async function findTopic(clients: Clients, name: string): Promise<string | undefined> {
  for await (const page of paginateListTopics({ client: clients.sns }, {})) {
    const match = page.Topics?.find((t) => t.TopicArn?.split(":").at(-1) === name);
    if (match?.TopicArn) return match.TopicArn;
  }
  return undefined;
}

/** Alarm name → ARN for this pipeline's alarms; undefined when the backend has no CloudWatch. */
export async function existingAlarms(config: Config, clients: Clients): Promise<Map<string, string> | undefined> {
  try {
    const result = await clients.cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: [config.names.failureAlarm, config.names.deadLetterAlarm] }),
    );
    return new Map((result.MetricAlarms ?? []).map((a) => [a.AlarmName ?? "", a.AlarmArn ?? ""]));
  } catch (error) {
    if (isUnavailable(error)) return undefined;
    throw error;
  }
}
