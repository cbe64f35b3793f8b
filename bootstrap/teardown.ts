// npm run teardown [-- --yes]: delete everything bootstrap and deploy created, buckets emptied first.
import { z } from "zod";
import { command, parseCommand } from "../src/cli/command.ts";
import { confirm } from "../src/cli/confirm.ts";
import { configFromEnvironment, fail, withClients } from "../src/cli/env.ts";
import { describeTarget } from "../src/config.ts";
import { withDeployClients } from "../src/provision/deploy/clients.ts";
import { deploymentNames } from "../src/provision/deploy/spec.ts";
import { formatRemoved, teardownDeployment } from "../src/provision/deploy/teardown.ts";
import { formatResources } from "../src/provision/report.ts";
import { teardownResources } from "../src/provision/resources.ts";

const values = parseCommand(
  command(
    "teardown",
    "Deletes everything bootstrap and deploy created (buckets emptied first, the Lambda function if deployed).",
  ).option("-y, --yes", "do not ask for confirmation (required when not on a terminal)"),
  z.object({ yes: z.boolean().default(false) }),
);
const config = configFromEnvironment();
const { names } = config;
const what = [
  names.uploadsBucket,
  names.thumbnailsBucket,
  names.queue,
  names.deadLetterQueue,
  names.table,
  names.failureTopic,
  `the Lambda function ${deploymentNames(config).function} if deployed`,
];

if (!values.yes) {
  if (!process.stdin.isTTY) fail("Refusing to delete without confirmation: pass --yes (npm run teardown -- --yes).");
  const yes = await confirm(`Delete ${what.join(", ")} and all their contents on ${describeTarget(config)}?`);
  if (!yes) fail("Nothing deleted.", 0);
}

await withClients(config, "Teardown failed", (clients) =>
  withDeployClients(config, async (deployClients) => {
    // The function first: its event source mapping would outlive the queue.
    const undeployed = await teardownDeployment(config, deployClients);
    if (undeployed.length > 0) console.log(formatRemoved(undeployed));
    const removed = await teardownResources(config, clients);
    if (removed.length === 0 && undeployed.length === 0) console.log("Nothing to delete: no resources found.");
    else if (removed.length > 0) console.log(formatResources(removed));
  }),
);
