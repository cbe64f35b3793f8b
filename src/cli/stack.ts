// npm run stack [-- --fresh] [-- --in-memory]: only the embedded AWS stack, in the foreground.
import { parseArgs } from "node:util";
import { describeStartError, embeddedStackOptions, startEmbeddedStack } from "../embedded/stack.ts";
import { createLogger } from "../logger.ts";
import { configFromEnvironment, fail } from "./env.ts";
import { onStopRequest } from "./process.ts";

const { values } = parseArgs({
  options: {
    fresh: { type: "boolean", default: false },
    "in-memory": { type: "boolean", default: false },
  },
});
const config = configFromEnvironment();
const logger = createLogger(config.logLevel, { service: "stack" });
const stack = await startEmbeddedStack(
  embeddedStackOptions(config, logger, {
    ...(values["in-memory"] && { dataDir: undefined }),
    fresh: values.fresh,
  }),
).catch((error: unknown) => fail(describeStartError(error, config.embedded.port)));

console.log(`Embedded AWS stack (S3, SQS, SNS, DynamoDB) listening on ${stack.endpoint}`);
console.log(
  values["in-memory"] ? "State: in memory only" : `State: ${config.embedded.dataDir}/ (kept across restarts)`,
);
// A signal (npm passes SIGINT and SIGTERM on), a closed terminal, or npm gone.
onStopRequest(async () => {
  await stack.stop();
  process.exit(0);
});
