// The AWS Lambda entry point (handler: lambda.handler). Built once per container, in
// Lambda's init phase; without AWS_ENDPOINT_URL on Lambda, the clients talk to real AWS.
import { createClients } from "../aws/clients.ts";
import { loadConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createHandler } from "./handler.ts";
import { createMetrics } from "./metrics.ts";
import { configureSharpForWorker } from "./thumbnails.ts";

const config = loadConfig(process.env);
configureSharpForWorker();
const logger = createLogger(config.logLevel, { service: "lambda" });

// Metrics as embedded-metric-format log lines: CloudWatch Logs turns them into metrics,
// and the failure alarm created by bootstrap notifies the topic.
const metrics = createMetrics(config.names.prefix, (line) => process.stdout.write(`${line}\n`));

export const handler = createHandler({ config, clients: createClients(config), logger, metrics });
