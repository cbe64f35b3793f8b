// npm run deploy [-- --dry-run] [--arch x86_64|arm64]: the same handler on AWS Lambda,
// behind the same queue, with the resources bootstrap creates.
import { z } from "zod";
import { command, parseCommand } from "../src/cli/command.ts";
import { configFromEnvironment, explainConnectionError, fail, withClients } from "../src/cli/env.ts";
import { type Config, describeTarget, LAMBDA_ARCHITECTURES } from "../src/config.ts";
import { hasCredentials, withDeployClients } from "../src/provision/deploy/clients.ts";
import {
  applyPlan,
  type DeployContext,
  DeployError,
  type DeployPlan,
  planDeployment,
  StepAction,
} from "../src/provision/deploy/deploy.ts";
import { buildLambdaPackage, formatSize, LAMBDA_LIMITS, NPM_CPU } from "../src/provision/deploy/package.ts";
import { deploymentNames } from "../src/provision/deploy/spec.ts";
import { formatTable } from "../src/table.ts";

const values = parseCommand(
  command(
    "deploy",
    "Deploys the same handler to AWS Lambda behind the same queue, with the resources bootstrap creates: " +
      "plans what must change, then applies it.",
  )
    .option("--dry-run", "print the plan and change nothing (works without credentials)")
    .option(
      "--arch <arch>",
      `the function's architecture: ${LAMBDA_ARCHITECTURES.join(" or ")} (default: LAMBDA_ARCHITECTURE)`,
    ),
  z.object({ dryRun: z.boolean().default(false), arch: z.enum(LAMBDA_ARCHITECTURES).optional() }),
);
const dryRun = values.dryRun;
let config: Config = configFromEnvironment();
if (values.arch !== undefined) {
  config = { ...config, lambda: { ...config.lambda, architecture: values.arch } };
}
const target = describeTarget(config);
const architecture = config.lambda.architecture;

console.log(
  `${dryRun ? "Planning" : "Deploying"} the thumbnailer to Lambda on ${target} (prefix "${config.names.prefix}")` +
    (dryRun ? ": dry run, nothing will be changed" : ""),
);

const started = performance.now();
const pkg = await buildLambdaPackage({ architecture }).catch((error: unknown) =>
  fail(`Could not build the package: ${(error as Error).message}`),
);
console.log(
  `Package ${pkg.path}: ${formatSize(pkg.zippedBytes)} zipped, ${formatSize(pkg.unzippedBytes)} unzipped ` +
    `(Lambda allows ${formatSize(LAMBDA_LIMITS.zippedBytes)} / ${formatSize(LAMBDA_LIMITS.unzippedBytes)}); ` +
    `sharp ${pkg.sharpVersion} for linux-${NPM_CPU[architecture]}; built in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);

/** A refusal in its own words; anything else as one line, with the SDK error's name. */
const deployFailure = (error: unknown) => ({
  message:
    error instanceof DeployError
      ? error.message
      : (explainConnectionError(error, target) ??
        `Deploy failed: ${(error as Error).name}: ${(error as Error).message}`),
});
await withClients(config, deployFailure, (clients) =>
  withDeployClients(config, async (deploy) => {
    const ctx: DeployContext = { config, clients, deploy, pkg };
    const credentials = await hasCredentials(deploy);
    if (!credentials && !dryRun) {
      fail(
        "No AWS credentials found. Run `aws configure` (or `aws sso login`), or put AWS Academy's " +
          "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN in .env.",
      );
    }
    let plan: DeployPlan;
    try {
      plan = await planDeployment(ctx, { readState: credentials });
    } catch (error) {
      if (!dryRun || error instanceof DeployError) throw error;
      // A dry run still shows what deploy would do when the backend cannot be asked.
      plan = await planDeployment(ctx, { readState: false });
      plan.stateUnknown = explainConnectionError(error, target) ?? (error as Error).message;
    }
    console.log(`\n${formatPlan(plan)}\n`);
    if (plan.stateUnknown) {
      console.log(
        `The current state was not read (${plan.stateUnknown}): each step shows what deploy would create, ` +
          "or update where it differs.",
      );
    }
    if (plan.problems.length > 0) fail(`Refusing to deploy:\n${plan.problems.map((p) => `- ${p}`).join("\n")}`);
    if (dryRun) {
      const changes = plan.steps.filter((s) => s.action !== StepAction.Unchanged && s.action !== StepAction.Use);
      console.log(`Dry run: nothing was changed (${changes.length} of ${plan.steps.length} steps would act).`);
    } else if (!plan.steps.some((s) => s.apply)) {
      console.log("Nothing to change: the deployment is up to date.");
    } else {
      await applyPlan(plan, (step) => console.log(`${step.action} ${step.kind} ${step.name}…`));
      const names = deploymentNames(config);
      console.log(
        `\nDeployed in ${((performance.now() - started) / 1000).toFixed(1)} s. Lambda now consumes ${config.names.queue}: ` +
          "don't also run `npm run worker` against it.\n" +
          `Try it: npm run seed-images   Logs: aws logs tail ${names.logGroup} --follow`,
      );
    }
  }),
);

function formatPlan(plan: DeployPlan): string {
  const rows: string[][] = [];
  for (const step of plan.steps) {
    const [first = "", ...rest] = step.details;
    rows.push([step.kind, step.name, step.action, first]);
    for (const line of rest) rows.push(["", "", "", line]);
  }
  return `Account ${plan.account}\n${formatTable(["kind", "name", "action", "details"], rows)}`;
}
