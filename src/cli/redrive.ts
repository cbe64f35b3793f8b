// npm run redrive: move the dead-letter queue's messages back to the main queue.
import { createClients, destroyClients } from "../aws/clients.ts";
import { redriveDeadLetters } from "../aws/queues.ts";
import { describeTarget } from "../config.ts";
import { configFromEnvironment, explainConnectionError, fail } from "./env.ts";

const config = configFromEnvironment();
const clients = createClients(config);
try {
  const moved = await redriveDeadLetters(config, clients);
  console.log(
    moved === 0
      ? `The dead-letter queue ${config.names.deadLetterQueue} is empty: nothing to redrive.`
      : `Moved ${moved} message(s) from ${config.names.deadLetterQueue} back to ${config.names.queue}.`,
  );
} catch (error) {
  fail(explainConnectionError(error, describeTarget(config)) ?? `Redrive failed: ${(error as Error).message}`);
} finally {
  destroyClients(clients);
}
