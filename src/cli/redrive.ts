// npm run redrive: move the dead-letter queue's messages back to the main queue.

import { z } from "zod";
import { redriveDeadLetters } from "../aws/queues.ts";
import { command, parseCommand } from "./command.ts";
import { configFromEnvironment, withClients } from "./env.ts";

parseCommand(
  command("redrive", "Moves every message of the dead-letter queue back to the upload queue, for another try."),
  z.object({}),
);
const config = configFromEnvironment();
await withClients(config, "Redrive failed", async (clients) => {
  const moved = await redriveDeadLetters(config, clients);
  console.log(
    moved === 0
      ? `The dead-letter queue ${config.names.deadLetterQueue} is empty: nothing to redrive.`
      : `Moved ${moved} message(s) from ${config.names.deadLetterQueue} back to ${config.names.queue}.`,
  );
});
