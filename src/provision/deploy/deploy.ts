// `npm run deploy`: plan what must change for the handler to run on Lambda, then apply it.
// Planning reads (when it can) and never writes; every write is a step's `apply`.
import { setTimeout as sleep } from "node:timers/promises";
import { DescribeAlarmsCommand, PutMetricAlarmCommand } from "@aws-sdk/client-cloudwatch";
import {
  CreateLogGroupCommand,
  DescribeLogGroupsCommand,
  PutRetentionPolicyCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { CreateRoleCommand, GetRoleCommand, GetRolePolicyCommand, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import {
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  type EventSourceMappingConfiguration,
  type FunctionConfiguration,
  GetFunctionCommand,
  InvalidParameterValueException,
  UpdateEventSourceMappingCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from "@aws-sdk/client-lambda";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { Clients } from "../../aws/clients.ts";
import { isAccessDenied, isNotFound, isServiceMissing } from "../../aws/errors.ts";
import { queueAttributes, queueUrl } from "../../aws/lookups.ts";
import { type Config, describeTarget } from "../../config.ts";
import { type AlarmDefinition, anyInOneMinute, sameAlarm } from "../alarms.ts";
import { describeResources, ensureResources } from "../resources.ts";
import type { DeployClients } from "./clients.ts";
import { isPolling, queueMappings } from "./mappings.ts";
import { formatSize, LAMBDA_LIMITS, type LambdaPackage, NPM_CPU } from "./package.ts";
import { handlerPolicy, lambdaTrustPolicy, type PolicyDocument } from "./policy.ts";
import {
  type DeploymentArns,
  deploymentArns,
  deploymentNames,
  functionEnvironment,
  LAB_ROLE,
  LAMBDA_HANDLER,
  LAMBDA_RUNTIME,
  partitionOf,
  requiredVisibilityTimeout,
  UNKNOWN_ACCOUNT,
  VISIBILITY_FACTOR,
  visibilityProblem,
} from "./spec.ts";

export const StepAction = {
  Create: "create",
  Update: "update",
  Unchanged: "unchanged",
  Use: "use",
  /** Planned without reading the current state (no credentials). */
  Ensure: "create or update",
  Refuse: "refuse",
} as const;
export type StepAction = (typeof StepAction)[keyof typeof StepAction];

export interface PlanStep {
  kind: string;
  name: string;
  action: StepAction;
  details: string[];
  /** The writes this step makes; absent when there is nothing to do. */
  apply?: () => Promise<void>;
}

export interface DeployPlan {
  target: string;
  account: string;
  /** Why the current state was not read (the plan then says what deploy would ensure). */
  stateUnknown?: string;
  steps: PlanStep[];
  /** Reasons to refuse: apply does nothing while there is one. */
  problems: string[];
}

export interface DeployContext {
  config: Config;
  clients: Clients;
  deploy: DeployClients;
  pkg: LambdaPackage;
  /** Pauses while a new role propagates through IAM; tests pass an instant one. */
  pause?: (ms: number) => Promise<void>;
}

export class DeployError extends Error {
  override name = "DeployError";
}

export const NO_LAMBDA =
  "This backend has no Lambda service (the embedded stack emulates S3, SQS, SNS and DynamoDB only). " +
  "Deploy to LocalStack (docker compose up) or to AWS (AWS_ENDPOINT_URL= in .env).";

/** The alarm on the function's own errors: crashes and timeouts, not images that failed. */
export function errorsAlarm(config: Config, topicArn: string): AlarmDefinition {
  const names = deploymentNames(config);
  return anyInOneMinute(
    {
      name: names.errorsAlarm,
      description:
        "The thumbnailer function crashed or timed out: its whole batch returns to the queue and is retried.",
      namespace: "AWS/Lambda",
      metric: "Errors",
      dimension: ["FunctionName", names.function],
    },
    topicArn,
  );
}

/**
 * The plan. With `readState`, it asks the backend what exists and plans only the changes;
 * without (no credentials), it lists everything deploy would create or update.
 */
export async function planDeployment(ctx: DeployContext, options: { readState: boolean }): Promise<DeployPlan> {
  const { config, pkg } = ctx;
  const problems: string[] = [];
  const target = describeTarget(config);

  if (pkg.zippedBytes > LAMBDA_LIMITS.zippedBytes || pkg.unzippedBytes > LAMBDA_LIMITS.unzippedBytes) {
    problems.push(
      `The package is ${formatSize(pkg.zippedBytes)} zipped, ${formatSize(pkg.unzippedBytes)} unzipped: ` +
        `over Lambda's limits of ${formatSize(LAMBDA_LIMITS.zippedBytes)} and ${formatSize(LAMBDA_LIMITS.unzippedBytes)}.`,
    );
  }
  const visibility = visibilityProblem(config);
  if (visibility) problems.push(visibility);

  if (!options.readState) {
    const account = config.lambda.roleArn?.split(":")[4] ?? UNKNOWN_ACCOUNT;
    return { target, account, steps: blindSteps(ctx, account), problems, stateUnknown: "no credentials" };
  }

  // Lambda first: on a backend without it nothing else matters.
  let existingFunction: FunctionConfiguration | undefined;
  try {
    existingFunction = await getFunction(ctx);
  } catch (error) {
    if (!isServiceMissing(error)) throw error;
    const account = config.lambda.roleArn?.split(":")[4] ?? UNKNOWN_ACCOUNT;
    return {
      target,
      account,
      steps: blindSteps(ctx, account),
      problems: [...problems, NO_LAMBDA],
      stateUnknown: "no Lambda service here",
    };
  }
  const identity = await ctx.deploy.sts.send(new GetCallerIdentityCommand({}));
  const account = identity.Account ?? UNKNOWN_ACCOUNT;
  const arns = deploymentArns(config, account);

  const steps: PlanStep[] = [];
  const bootstrap = await planBootstrap(ctx);
  steps.push(bootstrap.step, bootstrap.queueStep);
  const role = await planRole(ctx, arns, problems);
  steps.push(role.step);
  steps.push(await planLogGroup(ctx));
  steps.push(planFunction(ctx, existingFunction, role.arn, role.fresh));
  steps.push(await planMapping(ctx, arns));
  steps.push(await planAlarm(ctx, arns));
  return { target, account, steps, problems };
}

/** Runs every step that has something to do, in order; refuses while the plan has problems. */
export async function applyPlan(plan: DeployPlan, onStep: (step: PlanStep) => void = () => {}): Promise<void> {
  if (plan.problems.length > 0) throw new DeployError(plan.problems.join("\n"));
  for (const step of plan.steps) {
    if (!step.apply) continue;
    onStep(step);
    await step.apply();
  }
}

// --- bootstrap resources and the queue ----------------------------------------------------

async function planBootstrap(ctx: DeployContext): Promise<{ step: PlanStep; queueStep: PlanStep }> {
  const { config, clients } = ctx;
  const resources = await describeResources(config, clients);
  const missing = resources.filter((r) => r.state === "missing").map((r) => r.name);
  const url = await queueUrl(clients, config.names.queue);
  const current = url
    ? Number((await queueAttributes(clients, url, ["VisibilityTimeout"])).VisibilityTimeout)
    : undefined;
  const wanted = config.queue.visibilityTimeoutSeconds;
  const fixVisibility = current !== undefined && current !== wanted;
  const needed = missing.length > 0 || fixVisibility;
  const step: PlanStep = {
    kind: "bootstrap",
    name: `${config.names.prefix}-*, ${config.names.table}`,
    action: needed ? (missing.length > 0 ? StepAction.Create : StepAction.Update) : StepAction.Unchanged,
    details: needed
      ? [
          ...(missing.length > 0 ? [`missing: ${missing.join(", ")}`] : []),
          ...(fixVisibility ? [`queue VisibilityTimeout ${current} → ${wanted} s`] : []),
        ]
      : [`all ${resources.length} resources exist (buckets, queues, table, topic, alarms)`],
    ...(needed && { apply: () => ensureResources(config, clients).then(() => {}) }),
  };
  return { step, queueStep: queueStep(config, true, current) };
}

/** `known`: the queue was looked up; `current` is its visibility timeout, undefined if it is missing. */
function queueStep(config: Config, known: boolean, current: number | undefined): PlanStep {
  const required = requiredVisibilityTimeout(config);
  const wanted = config.queue.visibilityTimeoutSeconds;
  const ok = wanted >= required;
  return {
    kind: "sqs-queue",
    name: config.names.queue,
    action: !ok
      ? StepAction.Refuse
      : !known
        ? StepAction.Ensure
        : current === undefined
          ? StepAction.Create
          : current === wanted
            ? StepAction.Unchanged
            : StepAction.Update,
    details: [
      `VisibilityTimeout ${wanted} s ${ok ? "≥" : "<"} ${VISIBILITY_FACTOR} × function timeout ${config.lambda.timeoutSeconds} s = ${required} s` +
        (ok ? "" : ": too short, see below"),
      ...(ok && current !== undefined && current !== wanted ? [`now ${current} s: set by bootstrap above`] : []),
    ],
  };
}

// --- role ---------------------------------------------------------------------------------

async function planRole(
  ctx: DeployContext,
  arns: DeploymentArns,
  problems: string[],
): Promise<{ step: PlanStep; arn: string; fresh: boolean }> {
  const { config, deploy } = ctx;
  if (config.lambda.roleArn) {
    return {
      arn: config.lambda.roleArn,
      fresh: false,
      step: {
        kind: "iam-role",
        name: config.lambda.roleArn,
        action: StepAction.Use,
        details: ["from LAMBDA_ROLE_ARN"],
      },
    };
  }
  try {
    const lab = await deploy.iam.send(new GetRoleCommand({ RoleName: LAB_ROLE }));
    if (lab.Role?.Arn) {
      return {
        arn: lab.Role.Arn,
        fresh: false,
        step: {
          kind: "iam-role",
          name: LAB_ROLE,
          action: StepAction.Use,
          details: [`${lab.Role.Arn} (AWS Academy: lab accounts may not create roles)`],
        },
      };
    }
  } catch (error) {
    if (!isNotFound(error)) {
      if (isAccessDenied(error)) {
        problems.push(
          `Not allowed to read IAM roles (${(error as Error).message}). Set LAMBDA_ROLE_ARN to a role Lambda can assume.`,
        );
        return { arn: "", fresh: false, step: { kind: "iam-role", name: "?", action: StepAction.Refuse, details: [] } };
      }
      throw error;
    }
  }

  const names = deploymentNames(config);
  const policy = handlerPolicy(config, arns);
  const arn = `arn:${partitionOf(config.region)}:iam::${arns.queue.split(":")[4]}:role/${names.role}`;
  const details = describePolicy(policy);
  const existing = await getRole(ctx, names.role);
  if (!existing) {
    return {
      arn,
      fresh: true,
      step: {
        kind: "iam-role",
        name: names.role,
        action: StepAction.Create,
        details: [`no LabRole here: a role for Lambda allowed only to`, ...details],
        apply: async () => {
          await deploy.iam.send(
            new CreateRoleCommand({
              RoleName: names.role,
              AssumeRolePolicyDocument: JSON.stringify(lambdaTrustPolicy()),
              Description: `The ${names.function} function's permissions (npm run deploy)`,
            }),
          );
          await putRolePolicy(ctx, policy);
        },
      },
    };
  }
  const current = await getRolePolicy(ctx, names.role, names.rolePolicy);
  const same = current !== undefined && JSON.stringify(current) === JSON.stringify(policy);
  return {
    arn: existing,
    fresh: false,
    step: {
      kind: "iam-role",
      name: names.role,
      action: same ? StepAction.Unchanged : StepAction.Update,
      details: same ? details : ["policy differs: replace it with", ...details],
      ...(!same && { apply: () => putRolePolicy(ctx, policy) }),
    },
  };
}

function describePolicy(policy: PolicyDocument): string[] {
  return policy.Statement.map((s) => `  ${s.Action.join(", ")} on ${s.Resource.join(", ")}`);
}

async function getRole(ctx: DeployContext, name: string): Promise<string | undefined> {
  try {
    return (await ctx.deploy.iam.send(new GetRoleCommand({ RoleName: name }))).Role?.Arn;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function getRolePolicy(ctx: DeployContext, role: string, policy: string): Promise<unknown> {
  try {
    const result = await ctx.deploy.iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: policy }));
    // IAM returns the document URL-encoded.
    return result.PolicyDocument ? JSON.parse(decodeURIComponent(result.PolicyDocument)) : undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function putRolePolicy(ctx: DeployContext, policy: PolicyDocument): Promise<void> {
  const names = deploymentNames(ctx.config);
  await ctx.deploy.iam.send(
    new PutRolePolicyCommand({
      RoleName: names.role,
      PolicyName: names.rolePolicy,
      PolicyDocument: JSON.stringify(policy),
    }),
  );
}

// --- log group ----------------------------------------------------------------------------

async function planLogGroup(ctx: DeployContext): Promise<PlanStep> {
  const { config, deploy } = ctx;
  const name = deploymentNames(config).logGroup;
  const days = config.lambda.logRetentionDays;
  const found = await deploy.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
  const group = found.logGroups?.find((g) => g.logGroupName === name);
  const retention = () =>
    deploy.logs.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: days })).then(() => {});
  if (!group) {
    return {
      kind: "log-group",
      name,
      action: StepAction.Create,
      details: [`retention ${days} days`],
      apply: async () => {
        // Created before the function, or Lambda creates it on first use, keeping logs forever.
        await deploy.logs.send(new CreateLogGroupCommand({ logGroupName: name }));
        await retention();
      },
    };
  }
  if (group.retentionInDays === days) {
    return { kind: "log-group", name, action: StepAction.Unchanged, details: [`retention ${days} days`] };
  }
  return {
    kind: "log-group",
    name,
    action: StepAction.Update,
    details: [`retention ${group.retentionInDays ?? "never expire"} → ${days} days`],
    apply: retention,
  };
}

// --- function -----------------------------------------------------------------------------

async function getFunction(ctx: DeployContext): Promise<FunctionConfiguration | undefined> {
  try {
    const result = await ctx.deploy.lambda.send(
      new GetFunctionCommand({ FunctionName: deploymentNames(ctx.config).function }),
    );
    return result.Configuration;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function desiredFunction(config: Config, roleArn: string) {
  return {
    FunctionName: deploymentNames(config).function,
    Runtime: LAMBDA_RUNTIME,
    Handler: LAMBDA_HANDLER,
    Role: roleArn,
    MemorySize: config.lambda.memoryMb,
    Timeout: config.lambda.timeoutSeconds,
    Environment: { Variables: functionEnvironment(config) },
    Description: "Thumbnails for uploaded images (local-image-pipeline)",
  } as const;
}

function describeFunction(ctx: DeployContext, roleArn: string): string[] {
  const { config, pkg } = ctx;
  const env = functionEnvironment(config);
  return [
    `${LAMBDA_RUNTIME}, ${config.lambda.architecture}, ${config.lambda.memoryMb} MB, timeout ${config.lambda.timeoutSeconds} s, handler ${LAMBDA_HANDLER}`,
    `role ${roleArn}`,
    `code ${formatSize(pkg.zippedBytes)} zip (sha256 ${pkg.sha256}), sharp ${pkg.sharpVersion} linux-${NPM_CPU[pkg.architecture]}`,
    `env ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}`,
  ];
}

function planFunction(
  ctx: DeployContext,
  existing: FunctionConfiguration | undefined,
  roleArn: string,
  freshRole: boolean,
): PlanStep {
  const { config, deploy, pkg } = ctx;
  const desired = desiredFunction(config, roleArn);
  const name = desired.FunctionName;
  const architecture = config.lambda.architecture;
  if (!existing) {
    return {
      kind: "lambda-function",
      name,
      action: StepAction.Create,
      details: describeFunction(ctx, roleArn),
      apply: async () => {
        await retryWhileRolePropagates(ctx, freshRole, () =>
          deploy.lambda.send(
            new CreateFunctionCommand({
              ...desired,
              Architectures: [architecture],
              Code: { ZipFile: pkg.zip },
              Environment: { Variables: { ...desired.Environment.Variables } },
            }),
          ),
        );
        await waitUntilFunctionActiveV2({ client: deploy.lambda, maxWaitTime: 300 }, { FunctionName: name });
      },
    };
  }

  const codeChanges: string[] = [];
  if (existing.Architectures?.[0] !== architecture) {
    codeChanges.push(`architecture ${existing.Architectures?.[0]} → ${architecture}`);
  }
  if (existing.CodeSha256 !== pkg.sha256) codeChanges.push(`code ${existing.CodeSha256} → ${pkg.sha256}`);
  const configChanges: string[] = [];
  const compare = (label: string, current: unknown, wanted: unknown) => {
    if (current !== wanted) configChanges.push(`${label} ${current ?? "-"} → ${wanted}`);
  };
  compare("runtime", existing.Runtime, desired.Runtime);
  compare("handler", existing.Handler, desired.Handler);
  compare("role", existing.Role, desired.Role);
  compare("memory (MB)", existing.MemorySize, desired.MemorySize);
  compare("timeout (s)", existing.Timeout, desired.Timeout);
  compare("description", existing.Description, desired.Description);
  const currentEnv = existing.Environment?.Variables ?? {};
  const wantedEnv: Record<string, string> = desired.Environment.Variables;
  for (const key of [...new Set([...Object.keys(currentEnv), ...Object.keys(wantedEnv)])].sort()) {
    compare(`env ${key}`, currentEnv[key], wantedEnv[key] ?? "(removed)");
  }
  const changes = [...codeChanges, ...configChanges];
  if (changes.length === 0) {
    return { kind: "lambda-function", name, action: StepAction.Unchanged, details: describeFunction(ctx, roleArn) };
  }
  return {
    kind: "lambda-function",
    name,
    action: StepAction.Update,
    details: changes,
    apply: async () => {
      const settled = () =>
        waitUntilFunctionUpdatedV2({ client: deploy.lambda, maxWaitTime: 300 }, { FunctionName: name });
      if (codeChanges.length > 0) {
        await deploy.lambda.send(
          new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: pkg.zip, Architectures: [architecture] }),
        );
        await settled();
      }
      if (configChanges.length > 0) {
        await retryWhileRolePropagates(ctx, freshRole, () =>
          deploy.lambda.send(
            new UpdateFunctionConfigurationCommand({
              ...desired,
              Environment: { Variables: { ...desired.Environment.Variables } },
            }),
          ),
        );
        await settled();
      }
    },
  };
}

/** A role IAM has just created takes seconds before Lambda may assume it. */
async function retryWhileRolePropagates<T>(ctx: DeployContext, freshRole: boolean, call: () => Promise<T>): Promise<T> {
  const pause = ctx.pause ?? ((ms: number) => sleep(ms));
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const propagating =
        error instanceof InvalidParameterValueException && /role|assume/i.test(error.message) && freshRole;
      if (!propagating || attempt >= 15) throw error;
      await pause(2000);
    }
  }
}

// --- event source mapping -----------------------------------------------------------------

async function planMapping(ctx: DeployContext, arns: DeploymentArns): Promise<PlanStep> {
  const { config, deploy } = ctx;
  const fn = deploymentNames(config).function;
  const name = `${config.names.queue} → ${fn}`;
  const mappings = await queueMappings(deploy.lambda, arns.queue);
  const ours = mappings.find((m) => m.FunctionArn?.endsWith(`:function:${fn}`));
  const others = mappings
    .filter((m) => m !== ours && isPolling(m))
    .map((m) => `note: ${m.FunctionArn} also consumes this queue`);
  const wanted = mappingSettings(config);
  if (!ours?.UUID) {
    return {
      kind: "event-source-mapping",
      name,
      action: StepAction.Create,
      details: [...describeMapping(config), ...others],
      apply: async () => {
        await deploy.lambda.send(
          new CreateEventSourceMappingCommand({ ...wanted, EventSourceArn: arns.queue, FunctionName: fn }),
        );
      },
    };
  }
  const changes = mappingChanges(ours, wanted);
  if (changes.length === 0) {
    return {
      kind: "event-source-mapping",
      name,
      action: StepAction.Unchanged,
      details: [...describeMapping(config), ...others],
    };
  }
  const uuid = ours.UUID;
  return {
    kind: "event-source-mapping",
    name,
    action: StepAction.Update,
    details: [...changes, ...others],
    apply: async () => {
      await deploy.lambda.send(new UpdateEventSourceMappingCommand({ ...wanted, UUID: uuid }));
    },
  };
}

function mappingSettings(config: Config) {
  return {
    BatchSize: config.lambda.batchSize,
    MaximumBatchingWindowInSeconds: 0,
    // Without it, one failed record would send the whole batch back to the queue.
    FunctionResponseTypes: ["ReportBatchItemFailures" as const],
    ScalingConfig: { MaximumConcurrency: config.lambda.maxConcurrency },
    Enabled: true,
  };
}

function describeMapping(config: Config): string[] {
  return [
    `batch size ${config.lambda.batchSize}, no batching window, ReportBatchItemFailures, ` +
      `at most ${config.lambda.maxConcurrency} concurrent invocations`,
  ];
}

function mappingChanges(
  current: EventSourceMappingConfiguration,
  wanted: ReturnType<typeof mappingSettings>,
): string[] {
  const changes: string[] = [];
  if (current.BatchSize !== wanted.BatchSize) changes.push(`batch size ${current.BatchSize} → ${wanted.BatchSize}`);
  if ((current.MaximumBatchingWindowInSeconds ?? 0) !== 0) {
    changes.push(`batching window ${current.MaximumBatchingWindowInSeconds} → 0 s`);
  }
  if (!current.FunctionResponseTypes?.includes("ReportBatchItemFailures")) changes.push("add ReportBatchItemFailures");
  const concurrency = current.ScalingConfig?.MaximumConcurrency;
  if (concurrency !== wanted.ScalingConfig.MaximumConcurrency) {
    changes.push(`maximum concurrency ${concurrency ?? "unlimited"} → ${wanted.ScalingConfig.MaximumConcurrency}`);
  }
  if (current.State === "Disabled" || current.State === "Disabling") changes.push(`enable (now ${current.State})`);
  return changes;
}

// --- alarm --------------------------------------------------------------------------------

async function planAlarm(ctx: DeployContext, arns: DeploymentArns): Promise<PlanStep> {
  const { config, deploy } = ctx;
  const alarm = errorsAlarm(config, arns.topic);
  const found = await deploy.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [alarm.AlarmName] }));
  const current = found.MetricAlarms?.[0];
  const details = describeAlarm(config, arns);
  const apply = () => deploy.cloudwatch.send(new PutMetricAlarmCommand(alarm)).then(() => {});
  if (!current) return { kind: "cloudwatch-alarm", name: alarm.AlarmName, action: StepAction.Create, details, apply };
  if (sameAlarm(current, alarm)) {
    return { kind: "cloudwatch-alarm", name: alarm.AlarmName, action: StepAction.Unchanged, details };
  }
  return { kind: "cloudwatch-alarm", name: alarm.AlarmName, action: StepAction.Update, details, apply };
}

function describeAlarm(config: Config, arns: DeploymentArns): string[] {
  return [
    `AWS/Lambda Errors ≥ 1 in 1 minute → ${arns.topic}`,
    `(dead-letter queue depth: alarm ${config.names.deadLetterAlarm} from bootstrap, same topic)`,
  ];
}

// --- without credentials ------------------------------------------------------------------

/** Everything deploy would ensure, when it cannot look: the same steps, all "create or update". */
function blindSteps(ctx: DeployContext, account: string): PlanStep[] {
  const { config } = ctx;
  const arns = deploymentArns(config, account);
  const names = deploymentNames(config);
  const roleArn =
    config.lambda.roleArn ??
    `arn:${partitionOf(config.region)}:iam::${account}:role/${LAB_ROLE} if it exists, else …:role/${names.role}`;
  return [
    {
      kind: "bootstrap",
      name: `${config.names.prefix}-*, ${config.names.table}`,
      action: StepAction.Ensure,
      details: [
        "buckets, queues, table, topic and alarms, as `npm run bootstrap` creates them",
        `(alarm ${config.names.deadLetterAlarm}: dead-letter queue depth → ${arns.topic})`,
      ],
    },
    queueStep(config, false, undefined),
    config.lambda.roleArn
      ? { kind: "iam-role", name: config.lambda.roleArn, action: StepAction.Use, details: ["from LAMBDA_ROLE_ARN"] }
      : {
          kind: "iam-role",
          name: `${LAB_ROLE} or ${names.role}`,
          action: StepAction.Ensure,
          details: [
            `${LAB_ROLE} if the account has it (AWS Academy); otherwise a role for Lambda allowed only to`,
            ...describePolicy(handlerPolicy(config, arns)),
          ],
        },
    {
      kind: "log-group",
      name: names.logGroup,
      action: StepAction.Ensure,
      details: [`retention ${config.lambda.logRetentionDays} days`],
    },
    {
      kind: "lambda-function",
      name: names.function,
      action: StepAction.Ensure,
      details: describeFunction(ctx, roleArn),
    },
    {
      kind: "event-source-mapping",
      name: `${config.names.queue} → ${names.function}`,
      action: StepAction.Ensure,
      details: describeMapping(config),
    },
    {
      kind: "cloudwatch-alarm",
      name: names.errorsAlarm,
      action: StepAction.Ensure,
      details: describeAlarm(config, arns),
    },
  ];
}
