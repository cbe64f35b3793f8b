// npm run bootstrap: create every resource the pipeline needs, idempotently.

import { createClients, destroyClients } from "../src/aws/clients.ts";
import { configFromEnvironment, explainConnectionError, fail } from "../src/cli/env.ts";
import { describeTarget } from "../src/config.ts";
import { formatResources, summarizeBootstrap } from "../src/provision/report.ts";
import { ensureResources } from "../src/provision/resources.ts";

const config = configFromEnvironment();
const clients = createClients(config);
console.log(`Bootstrapping resources on ${describeTarget(config)} (prefix "${config.names.prefix}")`);
try {
  const resources = await ensureResources(config, clients);
  console.log(formatResources(resources));
  console.log(summarizeBootstrap(resources));
} catch (error) {
  fail(explainConnectionError(error, describeTarget(config)) ?? `Bootstrap failed: ${(error as Error).message}`);
} finally {
  destroyClients(clients);
}
