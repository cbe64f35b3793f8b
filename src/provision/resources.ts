import { DeleteAlarmsCommand, PutMetricAlarmCommand } from "@aws-sdk/client-cloudwatch";
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type GlobalSecondaryIndex,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from "@aws-sdk/client-dynamodb";
import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketNotificationConfigurationCommand,
  PutBucketCorsCommand,
  PutBucketNotificationConfigurationCommand,
  PutPublicAccessBlockCommand,
  paginateListObjectsV2,
} from "@aws-sdk/client-s3";
import { CreateTopicCommand, DeleteTopicCommand, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, DeleteQueueCommand, SetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { Clients } from "../aws/clients.ts";
import { isNotFound } from "../aws/errors.ts";
import { bucketExists, existingAlarms, findTopic, queueAttributes, queueUrl } from "../aws/lookups.ts";
import type { Config } from "../config.ts";
import { alarmDefinitions } from "./alarms.ts";

export type ResourceKind =
  | "s3-bucket"
  | "sqs-queue"
  | "dynamodb-table"
  | "sns-topic"
  | "cloudwatch-alarm"
  | "s3-notification";

export interface ResourceInfo {
  kind: ResourceKind;
  name: string;
  arn?: string;
  url?: string;
  /** After ensureResources: what this run did. After describeResources: present or missing. */
  state: "created" | "exists" | "updated" | "present" | "missing" | "unavailable";
  detail?: string;
}

/**
 * Creates every resource the pipeline needs, idempotently: a second run creates nothing.
 * The same calls run against the embedded stack, LocalStack and AWS.
 */
export async function ensureResources(config: Config, clients: Clients): Promise<ResourceInfo[]> {
  const { names } = config;
  const out: ResourceInfo[] = [];
  out.push(await ensureBucket(config, clients, names.uploadsBucket, true));
  out.push(await ensureBucket(config, clients, names.thumbnailsBucket, false));

  const dlq = await ensureQueue(clients, names.deadLetterQueue, {
    // Keep failed messages as long as SQS allows: 14 days.
    MessageRetentionPeriod: "1209600",
  });
  out.push(dlq);
  const queue = await ensureQueue(clients, names.queue, {
    VisibilityTimeout: String(config.queue.visibilityTimeoutSeconds),
    ReceiveMessageWaitTimeSeconds: "20",
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: config.queue.maxReceiveCount }),
  });
  // The policy names the queue's own ARN, known only once the queue exists.
  await clients.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: queue.url,
      Attributes: { Policy: JSON.stringify(queuePolicy(queue.arn ?? "", names.uploadsBucket)) },
    }),
  );
  out.push(queue);
  out.push(await withTimeToLive(config, clients, await ensureTable(config, clients)));
  const topic = await ensureTopic(config, clients);
  out.push(topic);
  out.push(...(await ensureAlarmResources(config, clients, topic.arn ?? "")));
  out.push(await ensureNotification(config, clients, queue.arn ?? ""));
  return out;
}

/** Lets S3 (and only from our uploads bucket) send notifications to the queue on AWS. */
function queuePolicy(queueArn: string, bucket: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "AllowUploadsBucketNotifications",
        Effect: "Allow",
        Principal: { Service: "s3.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnLike: { "aws:SourceArn": `arn:aws:s3:::${bucket}` } },
      },
    ],
  };
}

async function ensureBucket(config: Config, clients: Clients, bucket: string, uploads: boolean): Promise<ResourceInfo> {
  const info = { kind: "s3-bucket" as const, name: bucket, arn: `arn:aws:s3:::${bucket}` };
  let state: ResourceInfo["state"] = "exists";
  if (!(await bucketExists(clients.s3, bucket))) {
    await clients.s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        // us-east-1 is the one region that refuses an explicit location constraint.
        ...(config.region !== "us-east-1" && {
          CreateBucketConfiguration: { LocationConstraint: config.region as BucketLocationConstraint },
        }),
      }),
    );
    state = "created";
    // Originals and thumbnails are never public: the gallery hands out presigned URLs.
    await clients.s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucket,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    );
  }
  // Browsers upload straight to the uploads bucket with a presigned POST, and read thumbnails:
  // from the gallery's origins (and CORS_ALLOWED_ORIGINS) only, never any page on the web.
  await clients.s3.send(
    new PutBucketCorsCommand({
      Bucket: bucket,
      CORSConfiguration: {
        CORSRules: [
          {
            AllowedMethods: uploads ? ["GET", "POST", "PUT"] : ["GET"],
            AllowedOrigins: config.corsAllowedOrigins,
            AllowedHeaders: ["*"],
            ExposeHeaders: ["ETag"],
            MaxAgeSeconds: 3000,
          },
        ],
      },
    }),
  );
  return { ...info, state, url: `s3://${bucket}/${uploads ? config.uploadPrefix : ""}` };
}

async function ensureQueue(clients: Clients, name: string, attributes: Record<string, string>): Promise<ResourceInfo> {
  let url = await queueUrl(clients, name);
  let state: ResourceInfo["state"];
  let arn: string | undefined;
  if (url) {
    // Converge attributes (visibility timeout, redrive) on an existing queue.
    const current = await queueAttributes(clients, url);
    arn = current.QueueArn;
    const changed = Object.entries(attributes).filter(([k, v]) => !sameAttribute(k, current[k], v));
    if (changed.length > 0) {
      await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
      state = "updated";
    } else {
      state = "exists";
    }
  } else {
    const created = await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    url = created.QueueUrl ?? "";
    state = "created";
    arn = (await queueAttributes(clients, url)).QueueArn;
  }
  return {
    kind: "sqs-queue",
    name,
    url,
    state,
    ...(arn && { arn }),
    ...(state === "updated" && { detail: "attributes updated" }),
  };
}

/** Emulators and AWS differ in how they echo JSON attributes (numbers vs strings). */
function sameAttribute(name: string, current: string | undefined, wanted: string): boolean {
  if (current === wanted) return true;
  if (name !== "RedrivePolicy" || !current) return false;
  const a = JSON.parse(current) as Record<string, unknown>;
  const b = JSON.parse(wanted) as Record<string, unknown>;
  return a.deadLetterTargetArn === b.deadLetterTargetArn && String(a.maxReceiveCount) === String(b.maxReceiveCount);
}

/**
 * The table's global secondary indexes, both sharded over `listShard` ("0".."3", see
 * LIST_SHARDS) and sorted by an ISO date string: `byUploadDate` holds every listed item,
 * `byTakenDate` only those with a `takenAt` (a sparse index: DynamoDB leaves out items that
 * lack the index's sort key; AWS DynamoDB Developer Guide, "Take advantage of sparse indexes").
 */
export function tableIndexes(config: Config): GlobalSecondaryIndex[] {
  const { names } = config;
  const sharded = (IndexName: string, sortKey: string): GlobalSecondaryIndex => ({
    IndexName,
    KeySchema: [
      { AttributeName: "listShard", KeyType: "HASH" },
      { AttributeName: sortKey, KeyType: "RANGE" },
    ],
    Projection: { ProjectionType: "ALL" },
  });
  return [sharded(names.uploadDateIndex, "uploadDate"), sharded(names.takenDateIndex, "takenAt")];
}

const TABLE_ATTRIBUTES = [
  { AttributeName: "imageId", AttributeType: "S" },
  { AttributeName: "listShard", AttributeType: "S" },
  { AttributeName: "uploadDate", AttributeType: "S" },
  { AttributeName: "takenAt", AttributeType: "S" },
] as const;

async function ensureTable(config: Config, clients: Clients): Promise<ResourceInfo> {
  const { names } = config;
  const existing = await describeTableIndexes(clients, names.table);
  if (existing) return addMissingIndexes(config, clients, existing);
  await clients.dynamo.send(
    new CreateTableCommand({
      TableName: names.table,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [...TABLE_ATTRIBUTES],
      KeySchema: [{ AttributeName: "imageId", KeyType: "HASH" }],
      GlobalSecondaryIndexes: tableIndexes(config),
    }),
  );
  await waitUntilTableExists({ client: clients.dynamo, maxWaitTime: 120, minDelay: 1 }, { TableName: names.table });
  const arn = await describeTable(clients, names.table);
  return { kind: "dynamodb-table", name: names.table, state: "created", ...(arn && { arn }) };
}

/**
 * A table from before an index existed (byTakenDate came later) gets it with UpdateTable
 * (GlobalSecondaryIndexUpdates: Create). On AWS and LocalStack the index is then created and
 * backfilled from the existing items while the table stays usable (status CREATING until
 * done). dynalite (the embedded stack) accepts the call but ignores it: the report says so.
 */
async function addMissingIndexes(
  config: Config,
  clients: Clients,
  table: { arn: string; indexes: Map<string, string> },
): Promise<ResourceInfo> {
  const { names } = config;
  const base = { kind: "dynamodb-table" as const, name: names.table, arn: table.arn };
  const missing = tableIndexes(config).filter((index) => !table.indexes.has(index.IndexName ?? ""));
  if (missing.length === 0) {
    const creating = [...table.indexes].filter(([, status]) => status === "CREATING").map(([name]) => name);
    return {
      ...base,
      state: "exists",
      ...(creating.length > 0 && { detail: `index ${creating.join(", ")} CREATING` }),
    };
  }
  // DynamoDB creates one index per UpdateTable call.
  for (const index of missing) {
    try {
      await clients.dynamo.send(
        new UpdateTableCommand({
          TableName: names.table,
          AttributeDefinitions: [...TABLE_ATTRIBUTES],
          GlobalSecondaryIndexUpdates: [{ Create: index }],
        }),
      );
    } catch (error) {
      // dynalite validates Create as if every table were provisioned (asks for a
      // ProvisionedThroughput that on-demand tables must not send), then would ignore it anyway.
      if (!/create\.provisionedThroughput/i.test((error as Error).message ?? "")) throw error;
    }
  }
  const after = await describeTableIndexes(clients, names.table);
  const stillMissing = missing.map((i) => i.IndexName ?? "").filter((name) => !after?.indexes.has(name));
  if (stillMissing.length > 0) {
    return {
      ...base,
      state: "exists",
      detail:
        `index ${stillMissing.join(", ")} NOT added: this DynamoDB (dynalite, the embedded stack) cannot add an ` +
        "index to an existing table; a fresh DATA_DIR has it (`images list --sort taken` fails until then)",
    };
  }
  return { ...base, state: "updated", detail: `index ${missing.map((i) => i.IndexName).join(", ")} added (backfills)` };
}

async function describeTableIndexes(
  clients: Clients,
  table: string,
): Promise<{ arn: string; indexes: Map<string, string> } | undefined> {
  try {
    const result = await clients.dynamo.send(new DescribeTableCommand({ TableName: table }));
    const indexes = new Map(
      (result.Table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName ?? "", i.IndexStatus ?? "ACTIVE"]),
    );
    return { arn: result.Table?.TableArn ?? `table/${table}`, indexes };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Tombstones of deleted images (status DELETED) carry `expiresAt`; DynamoDB's TTL removes
 * them after TOMBSTONE_TTL_SECONDS where the backend has TTL (AWS, LocalStack). dynalite has
 * none: there `images reconcile` removes expired tombstones.
 */
async function withTimeToLive(config: Config, clients: Clients, table: ResourceInfo): Promise<ResourceInfo> {
  const TableName = config.names.table;
  const current = await clients.dynamo.send(new DescribeTimeToLiveCommand({ TableName }));
  const description = current.TimeToLiveDescription;
  if (description?.AttributeName === TTL_ATTRIBUTE && description.TimeToLiveStatus !== "DISABLED") {
    return { ...table, detail: joinDetail(table.detail, `TTL on ${TTL_ATTRIBUTE}`) };
  }
  try {
    await clients.dynamo.send(
      new UpdateTimeToLiveCommand({
        TableName,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== "UnknownOperationException") throw error;
    return { ...table, detail: joinDetail(table.detail, "no TTL here: `images reconcile` removes expired tombstones") };
  }
  return {
    ...table,
    state: table.state === "created" ? "created" : "updated",
    detail: joinDetail(table.detail, `TTL on ${TTL_ATTRIBUTE}`),
  };
}

function joinDetail(first: string | undefined, second: string): string {
  return first ? `${first}; ${second}` : second;
}
const TTL_ATTRIBUTE = "expiresAt";

async function describeTable(clients: Clients, table: string): Promise<string | undefined> {
  try {
    const result = await clients.dynamo.send(new DescribeTableCommand({ TableName: table }));
    return result.Table?.TableArn ?? `table/${table}`;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function ensureTopic(config: Config, clients: Clients): Promise<ResourceInfo> {
  const name = config.names.failureTopic;
  const before = await findTopic(clients, name);
  // CreateTopic is idempotent and returns the existing ARN.
  const arn = (await clients.sns.send(new CreateTopicCommand({ Name: name }))).TopicArn ?? "";
  if (config.alertEmail && !before) {
    await clients.sns.send(new SubscribeCommand({ TopicArn: arn, Protocol: "email", Endpoint: config.alertEmail }));
  }
  return { kind: "sns-topic", name, arn, state: before ? "exists" : "created" };
}

const NO_CLOUDWATCH = "no CloudWatch here (embedded stack): the worker publishes failures to the topic itself";

async function ensureAlarmResources(config: Config, clients: Clients, topicArn: string): Promise<ResourceInfo[]> {
  const definitions = alarmDefinitions(config, topicArn);
  const existing = await existingAlarms(config, clients);
  if (existing === undefined) {
    return definitions.map((a) => ({
      kind: "cloudwatch-alarm",
      name: a.AlarmName ?? "",
      state: "unavailable",
      detail: NO_CLOUDWATCH,
    }));
  }
  // PutMetricAlarm creates or replaces: running it every time keeps the definition current.
  for (const alarm of definitions) await clients.cloudwatch.send(new PutMetricAlarmCommand(alarm));
  return definitions.map((a) => ({
    kind: "cloudwatch-alarm",
    name: a.AlarmName ?? "",
    state: existing.has(a.AlarmName ?? "") ? "exists" : "created",
    ...(existing.get(a.AlarmName ?? "") && { arn: existing.get(a.AlarmName ?? "") }),
    detail: `${a.MetricName} → ${config.names.failureTopic}`,
  }));
}

/** The uploads bucket's notification to the queue, as `npm start` and `npm run resources` name it. */
function notificationName(config: Config): string {
  return `${config.names.uploadsBucket} → ${config.names.queue}`;
}

/**
 * Whether the uploads bucket sends events under the upload prefix to this queue: "complete"
 * when it sends every event of NOTIFIED_EVENTS, "partial" for a configuration from before
 * deletes were followed (ObjectCreated only), "none" otherwise.
 */
async function notificationState(
  config: Config,
  clients: Clients,
  queueArn: string,
): Promise<"complete" | "partial" | "none"> {
  const current = await clients.s3.send(
    new GetBucketNotificationConfigurationCommand({ Bucket: config.names.uploadsBucket }),
  );
  const ours = current.QueueConfigurations?.find(
    (q) =>
      q.QueueArn === queueArn &&
      q.Filter?.Key?.FilterRules?.some((r) => r.Name?.toLowerCase() === "prefix" && r.Value === config.uploadPrefix),
  );
  if (!ours) return "none";
  return NOTIFIED_EVENTS.every((event) => ours.Events?.includes(event)) ? "complete" : "partial";
}

function notificationDetail(config: Config): string {
  return `prefix ${config.uploadPrefix}, ${NOTIFIED_EVENTS.join(" ")}`;
}

async function ensureNotification(config: Config, clients: Clients, queueArn: string): Promise<ResourceInfo> {
  const bucket = config.names.uploadsBucket;
  const id = "uploads-to-queue";
  const name = notificationName(config);
  const detail = notificationDetail(config);
  const state = await notificationState(config, clients, queueArn);
  if (state === "complete") return { kind: "s3-notification", name, state: "exists", detail };
  await clients.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            Id: id,
            QueueArn: queueArn,
            Events: [...NOTIFIED_EVENTS],
            // Only originals: thumbnails live in another bucket and never trigger processing.
            Filter: { Key: { FilterRules: [{ Name: "prefix", Value: config.uploadPrefix }] } },
          },
        ],
      },
    }),
  );
  // A configuration from before deletes were followed gets ObjectRemoved added.
  return { kind: "s3-notification", name, state: state === "partial" ? "updated" : "created", detail };
}

/**
 * Uploads (PutObject, POST, copy, multipart) and deletes (DeleteObject, DeleteObjects, a
 * delete marker): the handler keeps items and thumbnails in step with both.
 */
export const NOTIFIED_EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"] as const;

/** What exists now, for `npm run resources`. */
export async function describeResources(config: Config, clients: Clients): Promise<ResourceInfo[]> {
  const { names } = config;
  const out: ResourceInfo[] = [];
  for (const bucket of [names.uploadsBucket, names.thumbnailsBucket]) {
    out.push({
      kind: "s3-bucket",
      name: bucket,
      arn: `arn:aws:s3:::${bucket}`,
      url: `s3://${bucket}/`,
      state: (await bucketExists(clients.s3, bucket)) ? "present" : "missing",
    });
  }
  for (const name of [names.queue, names.deadLetterQueue]) {
    const url = await queueUrl(clients, name);
    const arn = url ? (await queueAttributes(clients, url)).QueueArn : undefined;
    out.push({ kind: "sqs-queue", name, state: url ? "present" : "missing", ...(url && { url }), ...(arn && { arn }) });
  }
  const table = await describeTableIndexes(clients, names.table);
  const indexes = [names.uploadDateIndex, names.takenDateIndex].map((name) => {
    const status = table?.indexes.get(name);
    return status === undefined ? `${name} (missing)` : status === "ACTIVE" ? name : `${name} (${status})`;
  });
  out.push({
    kind: "dynamodb-table",
    name: names.table,
    state: table ? "present" : "missing",
    ...(table && { arn: table.arn }),
    detail: `indexes ${indexes.join(", ")}`,
  });
  const topicArn = await findTopic(clients, names.failureTopic);
  out.push({
    kind: "sns-topic",
    name: names.failureTopic,
    state: topicArn ? "present" : "missing",
    ...(topicArn && { arn: topicArn }),
  });
  const alarms = await existingAlarms(config, clients);
  for (const name of [names.failureAlarm, names.deadLetterAlarm]) {
    const arn = alarms?.get(name);
    out.push({
      kind: "cloudwatch-alarm",
      name,
      state: alarms === undefined ? "unavailable" : arn !== undefined ? "present" : "missing",
      ...(arn && { arn }),
    });
  }
  // The last link of the pipeline, as `npm start` lists it: without it uploads reach no queue.
  const queueArn = out.find((r) => r.kind === "sqs-queue" && r.name === names.queue)?.arn;
  const uploads = out[0]?.state === "present";
  out.push({
    kind: "s3-notification",
    name: notificationName(config),
    state:
      uploads && queueArn && (await notificationState(config, clients, queueArn)) === "complete"
        ? "present"
        : "missing",
    detail: notificationDetail(config),
  });
  return out;
}

/** Removes everything ensureResources creates, emptying buckets first. */
export async function teardownResources(config: Config, clients: Clients): Promise<ResourceInfo[]> {
  const { names } = config;
  const out: ResourceInfo[] = [];
  for (const bucket of [names.uploadsBucket, names.thumbnailsBucket]) {
    if (!(await bucketExists(clients.s3, bucket))) continue;
    const deleted = await emptyBucket(clients, bucket);
    await clients.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    out.push({ kind: "s3-bucket", name: bucket, state: "missing", detail: `${deleted} objects deleted` });
  }
  for (const name of [names.queue, names.deadLetterQueue]) {
    const url = await queueUrl(clients, name);
    if (!url) continue;
    await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    out.push({ kind: "sqs-queue", name, state: "missing" });
  }
  if (await describeTable(clients, names.table)) {
    await clients.dynamo.send(new DeleteTableCommand({ TableName: names.table }));
    await waitUntilTableNotExists(
      { client: clients.dynamo, maxWaitTime: 120, minDelay: 1 },
      { TableName: names.table },
    );
    out.push({ kind: "dynamodb-table", name: names.table, state: "missing" });
  }
  const alarms = await existingAlarms(config, clients);
  if (alarms && alarms.size > 0) {
    await clients.cloudwatch.send(new DeleteAlarmsCommand({ AlarmNames: [...alarms.keys()] }));
    for (const name of alarms.keys()) out.push({ kind: "cloudwatch-alarm", name, state: "missing" });
  }
  const topicArn = await findTopic(clients, names.failureTopic);
  if (topicArn) {
    await clients.sns.send(new DeleteTopicCommand({ TopicArn: topicArn }));
    out.push({ kind: "sns-topic", name: names.failureTopic, state: "missing" });
  }
  return out;
}

async function emptyBucket(clients: Clients, bucket: string): Promise<number> {
  let deleted = 0;
  for await (const page of paginateListObjectsV2({ client: clients.s3 }, { Bucket: bucket })) {
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length > 0) {
      await clients.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      deleted += keys.length;
    }
  }
  return deleted;
}
