// What LocalStack the tests and docker-compose.yml start; test/compose checks that the two agree.

/** The last image that starts without an account: newer ones exit unless LOCALSTACK_AUTH_TOKEN is set. */
export const PINNED_LOCALSTACK_IMAGE = "localstack/localstack:4.14.0";

/** Only what the pipeline and its deployment call: LocalStack starts each service on first use anyway. */
export const LOCALSTACK_SERVICES = [
  "s3",
  "sqs",
  "sns",
  "dynamodb",
  "cloudwatch",
  "logs",
  "lambda",
  "iam",
  "sts",
] as const;
