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

/** What planning has found so far: steps plan in order, and later ones read what earlier ones left. */
interface PlanState {
  /** Reasons to refuse, as the steps find them. */
  problems: string[];
  existingFunction: FunctionConfiguration | undefined;
  /** Left by the bootstrap step: the queue's visibility timeout now; undefined while the queue is missing. */
  queueVisibility?: number;
  /** Left by the role step: the role the function runs as, and whether deploy is creating it. */
  role?: { arn: string; fresh: boolean };
}

/** A step planned against what exists; `name` and `details` default to the step's own. */
interface Planned {
  action: StepAction;
  name?: string;
  details?: string[];
  apply?: () => Promise<void>;
}

/**
 * One deploy step, described once. `name` and `ensures` come from the configuration alone: they
 * are the plan without credentials, and the details of a step that creates or leaves unchanged.
 */
interface DeployStep {
  kind: string;
  name: string;
  ensures: string[];
  /** The action without credentials where the configuration alone decides it; default "create or update". */
  blindAction?: StepAction;
  /** Reads what exists and plans the change; never writes. */
  plan(state: PlanState): Promise<Planned>;
}

/** Every step, in the order deploy applies them, for this account ({@link UNKNOWN_ACCOUNT} without credentials). */
function deploySteps(ctx: DeployContext, account: string): DeployStep[] {
  const arns = deploymentArns(ctx.config, account);
  return [
    bootstrapStep(ctx, arns),
    queueStep(ctx.config),
    roleStep(ctx, arns),
    logGroupStep(ctx),
    functionStep(ctx, account),
    mappingStep(ctx, arns),
    alarmStep(ctx, arns),
  ];
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

  /** Everything deploy would ensure, when it cannot look: the same steps, as the configuration describes them. */
  const blind = (stateUnknown: string, more: string[] = []): DeployPlan => {
    const account = config.lambda.roleArn?.split(":")[4] ?? UNKNOWN_ACCOUNT;
    const steps = deploySteps(ctx, account).map((step) => ({
      kind: step.kind,
      name: step.name,
      action: step.blindAction ?? StepAction.Ensure,
      details: step.ensures,
    }));
    return { target, account, steps, problems: [...problems, ...more], stateUnknown };
  };
  if (!options.readState) return blind("no credentials");

  // Lambda first: on a backend without it nothing else matters.
  let existingFunction: FunctionConfiguration | undefined;
  try {
    existingFunction = await getFunction(ctx);
  } catch (error) {
    if (!isServiceMissing(error)) throw error;
    return blind("no Lambda service here", [NO_LAMBDA]);
  }
  const identity = await ctx.deploy.sts.send(new GetCallerIdentityCommand({}));
  const account = identity.Account ?? UNKNOWN_ACCOUNT;
  const state: PlanState = { problems, existingFunction };
  const steps: PlanStep[] = [];
  for (const step of deploySteps(ctx, account)) {
    const planned = await step.plan(state);
    steps.push({
      ...planned,
      kind: step.kind,
      name: planned.name ?? step.name,
      details: planned.details ?? step.ensures,
    });
  }
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

function bootstrapStep(ctx: DeployContext, arns: DeploymentArns): DeployStep {
  const { config, clients } = ctx;
  return {
    kind: "bootstrap",
    name: `${config.names.prefix}-*, ${config.names.table}`,
    ensures: [
      "buckets, queues, table, topic and alarms, as `npm run bootstrap` creates them",
      `(alarm ${config.names.deadLetterAlarm}: dead-letter queue depth → ${arns.topic})`,
    ],
    async plan(state) {
      const resources = await describeResources(config, clients);
      const missing = resources.filter((r) => r.state === "missing").map((r) => r.name);
      const url = await queueUrl(clients, config.names.queue);
      const current = url
        ? Number((await queueAttributes(clients, url, ["VisibilityTimeout"])).VisibilityTimeout)
        : undefined;
      state.queueVisibility = current;
      const wanted = config.queue.visibilityTimeoutSeconds;
      const fixVisibility = current !== undefined && current !== wanted;
      if (missing.length === 0 && !fixVisibility) {
        return {
          action: StepAction.Unchanged,
          details: [`all ${resources.length} resources exist (buckets, queues, table, topic, alarms)`],
        };
      }
      return {
        action: missing.length > 0 ? StepAction.Create : StepAction.Update,
        details: [
          ...(missing.length > 0 ? [`missing: ${missing.join(", ")}`] : []),
          ...(fixVisibility ? [`queue VisibilityTimeout ${current} → ${wanted} s`] : []),
        ],
        apply: () => ensureResources(config, clients).then(() => {}),
      };
    },
  };
}

/** The queue itself is the bootstrap step's: this one checks its visibility timeout fits the function. */
function queueStep(config: Config): DeployStep {
  const required = requiredVisibilityTimeout(config);
  const wanted = config.queue.visibilityTimeoutSeconds;
  const ok = wanted >= required;
  const ensures = [
    `VisibilityTimeout ${wanted} s ${ok ? "≥" : "<"} ${VISIBILITY_FACTOR} × function timeout ${config.lambda.timeoutSeconds} s = ${required} s` +
      (ok ? "" : ": too short, see below"),
  ];
  return {
    kind: "sqs-queue",
    name: config.names.queue,
    ensures,
    ...(!ok && { blindAction: StepAction.Refuse }),
    async plan({ queueVisibility: current }) {
      if (!ok) return { action: StepAction.Refuse };
      if (current === undefined) return { action: StepAction.Create };
      if (current === wanted) return { action: StepAction.Unchanged };
      return { action: StepAction.Update, details: [...ensures, `now ${current} s: set by bootstrap above`] };
    },
  };
}

// --- role ---------------------------------------------------------------------------------

function roleStep(ctx: DeployContext, arns: DeploymentArns): DeployStep {
  const { config, deploy } = ctx;
  const given = config.lambda.roleArn;
  if (given) {
    return {
      kind: "iam-role",
      name: given,
      ensures: ["from LAMBDA_ROLE_ARN"],
      blindAction: StepAction.Use,
      async plan(state) {
        state.role = { arn: given, fresh: false };
        return { action: StepAction.Use };
      },
    };
  }
  const names = deploymentNames(config);
  const policy = handlerPolicy(config, arns);
  const details = describePolicy(policy);
  return {
    kind: "iam-role",
    name: `${LAB_ROLE} or ${names.role}`,
    ensures: [
      `${LAB_ROLE} if the account has it (AWS Academy); otherwise a role for Lambda allowed only to`,
      ...details,
    ],
    async plan(state) {
      state.role = { arn: "", fresh: false };
      try {
        const lab = await deploy.iam.send(new GetRoleCommand({ RoleName: LAB_ROLE }));
        if (lab.Role?.Arn) {
          state.role.arn = lab.Role.Arn;
          return {
            action: StepAction.Use,
            name: LAB_ROLE,
            details: [`${lab.Role.Arn} (AWS Academy: lab accounts may not create roles)`],
          };
        }
      } catch (error) {
        if (!isNotFound(error)) {
          if (!isAccessDenied(error)) throw error;
          state.problems.push(
            `Not allowed to read IAM roles (${(error as Error).message}). Set LAMBDA_ROLE_ARN to a role Lambda can assume.`,
          );
          return { action: StepAction.Refuse, name: "?", details: [] };
        }
      }

      const existing = await getRole(ctx, names.role);
      if (!existing) {
        state.role = {
          arn: `arn:${partitionOf(config.region)}:iam::${arns.queue.split(":")[4]}:role/${names.role}`,
          fresh: true,
        };
        return {
          action: StepAction.Create,
          name: names.role,
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
        };
      }
      state.role.arn = existing;
      const current = await getRolePolicy(ctx, names.role, names.rolePolicy);
      if (current !== undefined && JSON.stringify(current) === JSON.stringify(policy)) {
        return { action: StepAction.Unchanged, name: names.role, details };
      }
      return {
        action: StepAction.Update,
        name: names.role,
        details: ["policy differs: replace it with", ...details],
        apply: () => putRolePolicy(ctx, policy),
      };
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

function logGroupStep(ctx: DeployContext): DeployStep {
  const { config, deploy } = ctx;
  const name = deploymentNames(config).logGroup;
  const days = config.lambda.logRetentionDays;
  const retention = () =>
    deploy.logs.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: days })).then(() => {});
  return {
    kind: "log-group",
    name,
    ensures: [`retention ${days} days`],
    async plan() {
      const found = await deploy.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
      const group = found.logGroups?.find((g) => g.logGroupName === name);
      if (!group) {
        return {
          action: StepAction.Create,
          apply: async () => {
            // Created before the function, or Lambda creates it on first use, keeping logs forever.
            await deploy.logs.send(new CreateLogGroupCommand({ logGroupName: name }));
            await retention();
          },
        };
      }
      if (group.retentionInDays === days) return { action: StepAction.Unchanged };
      return {
        action: StepAction.Update,
        details: [`retention ${group.retentionInDays ?? "never expire"} → ${days} days`],
        apply: retention,
      };
    },
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

function functionStep(ctx: DeployContext, account: string): DeployStep {
  const { config } = ctx;
  const names = deploymentNames(config);
  const roleArn =
    config.lambda.roleArn ??
    `arn:${partitionOf(config.region)}:iam::${account}:role/${LAB_ROLE} if it exists, else …:role/${names.role}`;
  return {
    kind: "lambda-function",
    name: names.function,
    ensures: describeFunction(ctx, roleArn),
    async plan({ existingFunction, role = { arn: "", fresh: false } }) {
      return planFunction(ctx, existingFunction, role.arn, role.fresh);
    },
  };
}

function planFunction(
  ctx: DeployContext,
  existing: FunctionConfiguration | undefined,
  roleArn: string,
  freshRole: boolean,
): Planned {
  const { config, deploy, pkg } = ctx;
  const desired = desiredFunction(config, roleArn);
  const name = desired.FunctionName;
  const architecture = config.lambda.architecture;
  if (!existing) {
    return {
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
  if (changes.length === 0) return { action: StepAction.Unchanged, details: describeFunction(ctx, roleArn) };
  return {
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

function mappingStep(ctx: DeployContext, arns: DeploymentArns): DeployStep {
  const { config, deploy } = ctx;
  const fn = deploymentNames(config).function;
  const ensures = [
    `batch size ${config.lambda.batchSize}, no batching window, ReportBatchItemFailures, ` +
      `at most ${config.lambda.maxConcurrency} concurrent invocations`,
  ];
  return {
    kind: "event-source-mapping",
    name: `${config.names.queue} → ${fn}`,
    ensures,
    async plan() {
      const mappings = await queueMappings(deploy.lambda, arns.queue);
      const ours = mappings.find((m) => m.FunctionArn?.endsWith(`:function:${fn}`));
      const others = mappings
        .filter((m) => m !== ours && isPolling(m))
        .map((m) => `note: ${m.FunctionArn} also consumes this queue`);
      const wanted = mappingSettings(config);
      if (!ours?.UUID) {
        return {
          action: StepAction.Create,
          details: [...ensures, ...others],
          apply: async () => {
            await deploy.lambda.send(
              new CreateEventSourceMappingCommand({ ...wanted, EventSourceArn: arns.queue, FunctionName: fn }),
            );
          },
        };
      }
      const changes = mappingChanges(ours, wanted);
      if (changes.length === 0) return { action: StepAction.Unchanged, details: [...ensures, ...others] };
      const uuid = ours.UUID;
      return {
        action: StepAction.Update,
        details: [...changes, ...others],
        apply: async () => {
          await deploy.lambda.send(new UpdateEventSourceMappingCommand({ ...wanted, UUID: uuid }));
        },
      };
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

function alarmStep(ctx: DeployContext, arns: DeploymentArns): DeployStep {
  const { config, deploy } = ctx;
  const alarm = errorsAlarm(config, arns.topic);
  const apply = () => deploy.cloudwatch.send(new PutMetricAlarmCommand(alarm)).then(() => {});
  return {
    kind: "cloudwatch-alarm",
    name: alarm.AlarmName,
    ensures: [
      `AWS/Lambda Errors ≥ 1 in 1 minute → ${arns.topic}`,
      `(dead-letter queue depth: alarm ${config.names.deadLetterAlarm} from bootstrap, same topic)`,
    ],
    async plan() {
      const found = await deploy.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [alarm.AlarmName] }));
      const current = found.MetricAlarms?.[0];
      if (!current) return { action: StepAction.Create, apply };
      if (sameAlarm(current, alarm)) return { action: StepAction.Unchanged };
      return { action: StepAction.Update, apply };
    },
  };
}
