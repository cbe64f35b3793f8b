import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Config } from "../config.ts";

/** Every AWS client the pipeline uses, built once from config and passed down. */
export interface Clients {
  s3: S3Client;
  /** For presigned URLs a browser will use: same endpoint, no flexible checksums. */
  s3Presign: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  cloudwatch: CloudWatchClient;
}

export function clientOptions(config: Config) {
  const endpoint = config.target.kind === "emulator" ? config.target.endpoint : undefined;
  return {
    region: config.region,
    // No request may hang forever (the SDK's default): 20 s long polls fit well inside.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
    ...(endpoint && { endpoint }),
    ...(config.credentials && { credentials: config.credentials }),
  };
}

export function createClients(config: Config): Clients {
  const base = clientOptions(config);
  const emulator = config.target.kind === "emulator";
  // Emulators serve buckets on paths, not on virtual-host subdomains.
  const s3 = new S3Client({ ...base, forcePathStyle: emulator });
  const s3Presign = createPresignClient(config);
  // Emulator queue URLs carry the emulator's own hostname; the explicit endpoint wins.
  const sqs = new SQSClient(base);
  const sns = new SNSClient(base);
  const dynamo = new DynamoDBClient(base);
  const doc = DynamoDBDocumentClient.from(dynamo, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const cloudwatch = new CloudWatchClient(base);
  return { s3, s3Presign, sqs, sns, dynamo, doc, cloudwatch };
}

/**
 * An S3 client for signing URLs, at `endpoint` (path-style) when the browser reaches the
 * endpoint under another name. No checksum parameters: a presigned URL with a CRC32 fails
 * for any other body.
 */
export function createPresignClient(config: Config, endpoint?: string): S3Client {
  return new S3Client({
    ...clientOptions(config),
    ...(endpoint && { endpoint }),
    forcePathStyle: endpoint !== undefined || config.target.kind === "emulator",
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export function destroyClients(clients: Clients): void {
  for (const client of [clients.s3, clients.s3Presign, clients.sqs, clients.sns, clients.dynamo, clients.cloudwatch]) {
    client.destroy();
  }
}
