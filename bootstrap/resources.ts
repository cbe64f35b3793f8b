// npm run resources [-- --json]: every resource with its name, ARN and URL.
import { z } from "zod";
import { command, Exit, parseCommand } from "../src/cli/command.ts";
import { configFromEnvironment, withClients } from "../src/cli/env.ts";
import { describeTarget } from "../src/config.ts";
import { formatResources } from "../src/provision/report.ts";
import { describeResources } from "../src/provision/resources.ts";

const values = parseCommand(
  command("resources", "Lists every resource of the pipeline with its name, ARN and URL, and whether it exists.")
    .option("--json", "print JSON: { target, region, resources }")
    .addHelpText("after", "Exits 3 when a resource is missing (run `npm run bootstrap`)."),
  z.object({ json: z.boolean().default(false) }),
);
const config = configFromEnvironment();
await withClients(config, "Failed", async (clients) => {
  const resources = await describeResources(config, clients);
  if (values.json) {
    console.log(JSON.stringify({ target: describeTarget(config), region: config.region, resources }, null, 2));
  } else {
    console.log(`Resources on ${describeTarget(config)} (prefix "${config.names.prefix}")`);
    console.log(formatResources(resources));
  }
  if (resources.some((r) => r.state === "missing")) process.exitCode = Exit.NotFound;
});
