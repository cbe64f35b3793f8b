// npm run resources [-- --json]: every resource with its name, ARN and URL.
import { parseArgs } from "node:util";
import { createClients, destroyClients } from "../src/aws/clients.ts";
import { configFromEnvironment, explainConnectionError, fail } from "../src/cli/env.ts";
import { describeTarget } from "../src/config.ts";
import { formatResources } from "../src/provision/report.ts";
import { describeResources } from "../src/provision/resources.ts";

const { values } = parseArgs({ options: { json: { type: "boolean", default: false } } });
const config = configFromEnvironment();
const clients = createClients(config);
try {
  const resources = await describeResources(config, clients);
  if (values.json) {
    console.log(JSON.stringify({ target: describeTarget(config), region: config.region, resources }, null, 2));
  } else {
    console.log(`Resources on ${describeTarget(config)} (prefix "${config.names.prefix}")`);
    console.log(formatResources(resources));
  }
  if (resources.some((r) => r.state === "missing")) process.exitCode = 2;
} catch (error) {
  fail(explainConnectionError(error, describeTarget(config)) ?? `Failed: ${(error as Error).message}`);
} finally {
  destroyClients(clients);
}
