// npm run bootstrap: create every resource the pipeline needs, idempotently.

import { z } from "zod";
import { command, parseCommand } from "../src/cli/command.ts";
import { configFromEnvironment, withClients } from "../src/cli/env.ts";
import { describeTarget } from "../src/config.ts";
import { formatResources, summarizeBootstrap } from "../src/provision/report.ts";
import { ensureResources } from "../src/provision/resources.ts";

parseCommand(
  command(
    "bootstrap",
    "Creates every resource the pipeline needs (buckets, queues, table, topic, alarms, S3 notification); a second run creates nothing.",
  ),
  z.object({}),
);
const config = configFromEnvironment();
console.log(`Bootstrapping resources on ${describeTarget(config)} (prefix "${config.names.prefix}")`);
await withClients(config, "Bootstrap failed", async (clients) => {
  const resources = await ensureResources(config, clients);
  console.log(formatResources(resources));
  console.log(summarizeBootstrap(resources));
});
