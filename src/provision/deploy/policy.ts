// The IAM documents of the role deploy creates when there is neither LAMBDA_ROLE_ARN nor LabRole.
import type { Config } from "../../config.ts";
import type { DeploymentArns } from "./spec.ts";

export interface PolicyStatement {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: string[];
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

/**
 * Exactly what the handler and its event source mapping do, on exactly these resources. No
 * CloudWatch action: metrics are embedded-metric-format log lines, and alarms notify the
 * topic themselves, so the function never calls CloudWatch or SNS.
 */
export function handlerPolicy(config: Config, arns: DeploymentArns): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadOriginals",
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: [`${arns.uploadsBucket}/${config.uploadPrefix}*`],
      },
      {
        // Without it S3 answers 403 instead of 404 for a deleted upload, and the handler would
        // retry it into the dead-letter queue instead of skipping it.
        Sid: "TellDeletedUploadsApart",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: [arns.uploadsBucket],
      },
      {
        // Each version of an image has its own thumbnail keys; those of a replaced or deleted
        // version are removed (DeleteObjects needs s3:DeleteObject on each key).
        Sid: "WriteThumbnails",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:DeleteObject"],
        Resource: [`${arns.thumbnailsBucket}/*`],
      },
      {
        // GetItem: the recorded version, read before any work; UpdateItem: a newer sequencer
        // for an eTag already recorded. Every write is conditional on the sequencer.
        Sid: "RecordMetadata",
        Effect: "Allow",
        Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        Resource: [arns.table],
      },
      {
        // What the SQS event source mapping needs to poll on the function's behalf.
        Sid: "ConsumeUploadEvents",
        Effect: "Allow",
        Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
        Resource: [arns.queue],
      },
      {
        // The log group exists before the function (deploy creates it with a retention).
        Sid: "WriteLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [`${arns.logGroup}:*`],
      },
    ],
  };
}

/** Lets Lambda, and only Lambda, assume the role. */
export function lambdaTrustPolicy() {
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
  } as const;
}
