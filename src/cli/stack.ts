// npm run stack [-- --fresh] [-- --in-memory]: only the embedded AWS stack, in the foreground.
import { z } from "zod";
import { describeStartError, embeddedStackOptions, startEmbeddedStack } from "../embedded/stack.ts";
import { createLogger } from "../logger.ts";
import { command, parseCommand } from "./command.ts";
import { configFromEnvironment, fail } from "./env.ts";
import { onStopRequest } from "./process.ts";

const values = parseCommand(
  command("stack", "Only the embedded AWS stack (S3, SQS, SNS, DynamoDB), in the foreground, on EMBEDDED_PORT.")
    .option("--fresh", "start empty: delete the stack's saved state first")
    .option("--in-memory", "keep nothing on disk"),
  z.object({ fresh: z.boolean().default(false), inMemory: z.boolean().default(false) }),
);
const config = configFromEnvironment();
const logger = createLogger(config.logLevel, { service: "stack" });
const stack = await startEmbeddedStack(
  embeddedStackOptions(config, logger, {
    ...(values.inMemory && { dataDir: undefined }),
    fresh: values.fresh,
  }),
).catch((error: unknown) => fail(describeStartError(error, config.embedded.port)));

console.log(`Embedded AWS stack (S3, SQS, SNS, DynamoDB) listening on ${stack.endpoint}`);
console.log(values.inMemory ? "State: in memory only" : `State: ${config.embedded.dataDir}/ (kept across restarts)`);
// A signal (npm passes SIGINT and SIGTERM on), a closed terminal, or npm gone.
onStopRequest(async () => {
  await stack.stop();
  process.exit(0);
});
