// Deploy orchestration. No emulator here serves Lambda, IAM, CloudWatch, CloudWatch Logs or
// STS (the embedded stack answers 501 for them), so those five control-plane clients are
// mocked with aws-sdk-client-mock, and only them: bootstrap, S3 and SQS are real, on the
// test backend.
import { DeleteAlarmsCommand, DescribeAlarmsCommand, PutMetricAlarmCommand } from "@aws-sdk/client-cloudwatch";
import {
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  ResourceNotFoundException as LogGroupNotFound,
  PutRetentionPolicyCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
  type Role,
} from "@aws-sdk/client-iam";
import {
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  DeleteEventSourceMappingCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  InvalidParameterValueException,
  LambdaClient,
  ListEventSourceMappingsCommand,
  ResourceNotFoundException,
  UpdateEventSourceMappingCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from "@aws-sdk/client-lambda";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { type AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clientOptions } from "../../src/aws/clients.ts";
import { queueArn, queueUrl } from "../../src/aws/lookups.ts";
import type { Config } from "../../src/config.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { createDeployClients, type DeployClients, destroyDeployClients } from "../../src/provision/deploy/clients.ts";
import {
  applyPlan,
  type DeployContext,
  DeployError,
  type DeployPlan,
  errorsAlarm,
  planDeployment,
  StepAction,
} from "../../src/provision/deploy/deploy.ts";
import { warnIfLambdaConsumesQueue } from "../../src/provision/deploy/mappings.ts";
import type { LambdaPackage } from "../../src/provision/deploy/package.ts";
import { handlerPolicy } from "../../src/provision/deploy/policy.ts";
import { deploymentArns, deploymentNames, functionEnvironment } from "../../src/provision/deploy/spec.ts";
import { teardownDeployment } from "../../src/provision/deploy/teardown.ts";
import { createPipeline, type Pipeline, testConfig } from "../helpers.ts";

const ACCOUNT = "000000000000";
const LAB_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/LabRole`;
const meta = { $metadata: {} };

const fakePackage: LambdaPackage = {
  architecture: "x86_64",
  path: "/dev/null",
  zip: new Uint8Array([80, 75, 5, 6]),
  sha256: "c2hhMjU2LW9mLXRoZS16aXA=",
  zippedBytes: 9_000_000,
  unzippedBytes: 21_000_000,
  files: ["lambda.mjs"],
  sharpVersion: "0.35.5",
  bundledPackages: [],
};

type Mocks = { [K in keyof DeployClients]: AwsClientStub<DeployClients[K]> };

/** What the tests do with every stub alike (a union of the five stub types is not callable). */
interface Stub {
  onAnyCommand(): { resolves(response: object): unknown };
  calls(): { callId: number; args: unknown[] }[];
  restore(): void;
}
const stubs = (mocks: Mocks) => Object.values(mocks) as unknown as Stub[];

/** Mocks these client instances only; any command not set up otherwise succeeds with `{}`. */
function mockAll(clients: DeployClients): Mocks {
  const mocks: Mocks = {
    lambda: mockClient(clients.lambda),
    iam: mockClient(clients.iam),
    logs: mockClient(clients.logs),
    cloudwatch: mockClient(clients.cloudwatch),
    sts: mockClient(clients.sts),
  };
  for (const mock of stubs(mocks)) mock.onAnyCommand().resolves({});
  return mocks;
}

/** Commands that change something, across all mocked clients, in the order they were sent. */
const WRITES = [
  CreateLogGroupCommand,
  PutRetentionPolicyCommand,
  CreateRoleCommand,
  PutRolePolicyCommand,
  CreateFunctionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  CreateEventSourceMappingCommand,
  UpdateEventSourceMappingCommand,
  PutMetricAlarmCommand,
];

function writesSent(mocks: Mocks): string[] {
  return stubs(mocks)
    .flatMap((m) => m.calls())
    .sort((a, b) => a.callId - b.callId)
    .map((call) => (call.args[0] as object).constructor.name)
    .filter((name) => WRITES.some((w) => w.name === name));
}

function actions(plan: DeployPlan): Record<string, string> {
  return Object.fromEntries(plan.steps.map((s) => [s.kind, s.action]));
}

/** A function, log group, mapping and alarm exactly as deploy would leave them. */
function deployedState(mocks: Mocks, config: Config, roleArn = LAB_ROLE_ARN): void {
  const names = deploymentNames(config);
  const arns = deploymentArns(config, ACCOUNT);
  mocks.lambda.on(GetFunctionCommand).resolves({
    Configuration: {
      FunctionName: names.function,
      Runtime: "nodejs24.x",
      Handler: "lambda.handler",
      Role: roleArn,
      MemorySize: config.lambda.memoryMb,
      Timeout: config.lambda.timeoutSeconds,
      Description: "Thumbnails for uploaded images (local-image-pipeline)",
      Architectures: ["x86_64"],
      CodeSha256: fakePackage.sha256,
      Environment: { Variables: functionEnvironment(config) },
      State: "Active",
      LastUpdateStatus: "Successful",
    },
  });
  mocks.logs.on(DescribeLogGroupsCommand).resolves({
    logGroups: [{ logGroupName: names.logGroup, retentionInDays: config.lambda.logRetentionDays }],
  });
  mocks.lambda.on(ListEventSourceMappingsCommand).resolves({
    EventSourceMappings: [
      {
        UUID: "mapping-1",
        EventSourceArn: arns.queue,
        FunctionArn: arns.function,
        BatchSize: config.lambda.batchSize,
        MaximumBatchingWindowInSeconds: 0,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        ScalingConfig: { MaximumConcurrency: config.lambda.maxConcurrency },
        State: "Enabled",
      },
    ],
  });
  mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ ...errorsAlarm(config, arns.topic) }] });
}

function freshAccount(mocks: Mocks): void {
  mocks.lambda
    .on(GetFunctionCommand)
    .rejectsOnce(new ResourceNotFoundException({ message: "Function not found", ...meta }))
    .resolves({ Configuration: { State: "Active", LastUpdateStatus: "Successful" } });
  mocks.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
  mocks.lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [] });
  mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
}

describe("deploy", () => {
  let p: Pipeline;
  let deploy: DeployClients;
  let mocks: Mocks;
  let ctx: DeployContext;

  beforeAll(async () => {
    // A 1 s function timeout fits the tests' 10 s queue visibility timeout six times.
    p = await createPipeline({ env: { LAMBDA_TIMEOUT_SECONDS: "1" } });
  });
  afterAll(() => p.close());

  beforeEach(() => {
    deploy = createDeployClients(p.config);
    mocks = mockAll(deploy);
    mocks.sts
      .on(GetCallerIdentityCommand)
      .resolves({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/x` });
    mocks.iam.on(GetRoleCommand, { RoleName: "LabRole" }).resolves({ Role: { Arn: LAB_ROLE_ARN } as Role });
    ctx = { config: p.config, clients: p.clients, deploy, pkg: fakePackage, pause: async () => {} };
  });
  afterEach(() => {
    for (const mock of stubs(mocks)) mock.restore();
    destroyDeployClients(deploy);
  });

  it("on a fresh account with LabRole creates log group, function, mapping and alarm, in that order", async () => {
    freshAccount(mocks);
    const plan = await planDeployment(ctx, { readState: true });
    expect(plan.problems).toEqual([]);
    expect(actions(plan)).toEqual({
      bootstrap: StepAction.Unchanged,
      "sqs-queue": StepAction.Unchanged,
      "iam-role": StepAction.Use,
      "log-group": StepAction.Create,
      "lambda-function": StepAction.Create,
      "event-source-mapping": StepAction.Create,
      "cloudwatch-alarm": StepAction.Create,
    });

    await applyPlan(plan);
    expect(writesSent(mocks)).toEqual([
      "CreateLogGroupCommand",
      "PutRetentionPolicyCommand",
      "CreateFunctionCommand",
      "CreateEventSourceMappingCommand",
      "PutMetricAlarmCommand",
    ]);
    const created = mocks.lambda.commandCalls(CreateFunctionCommand)[0]?.args[0].input;
    expect(created).toMatchObject({
      FunctionName: `${p.config.names.prefix}-thumbnailer`,
      Runtime: "nodejs24.x",
      Handler: "lambda.handler",
      Architectures: ["x86_64"],
      MemorySize: 1536,
      Timeout: 1,
      Role: LAB_ROLE_ARN,
      Code: { ZipFile: fakePackage.zip },
    });
    const env = created?.Environment?.Variables ?? {};
    expect(env).toEqual(functionEnvironment(p.config));
    expect(Object.keys(env).filter((k) => /KEY|SECRET|TOKEN|SESSION|ENDPOINT/.test(k))).toEqual([]);

    const arns = deploymentArns(p.config, ACCOUNT);
    expect(mocks.lambda.commandCalls(CreateEventSourceMappingCommand)[0]?.args[0].input).toEqual({
      EventSourceArn: arns.queue,
      FunctionName: `${p.config.names.prefix}-thumbnailer`,
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 0,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 5 },
      Enabled: true,
    });
    expect(mocks.logs.commandCalls(PutRetentionPolicyCommand)[0]?.args[0].input.retentionInDays).toBe(14);
    expect(mocks.cloudwatch.commandCalls(PutMetricAlarmCommand)[0]?.args[0].input).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      AlarmActions: [arns.topic],
    });
  });

  it("changes nothing when run again on an up-to-date deployment", async () => {
    deployedState(mocks, p.config);
    const plan = await planDeployment(ctx, { readState: true });
    expect(plan.steps.filter((s) => s.action !== StepAction.Unchanged && s.action !== StepAction.Use)).toEqual([]);
    expect(plan.steps.some((s) => s.apply)).toBe(false);
    await applyPlan(plan);
    expect(writesSent(mocks)).toEqual([]);
  });

  it("updates only the configuration, not the code, when only the memory changed", async () => {
    deployedState(mocks, { ...p.config, lambda: { ...p.config.lambda, memoryMb: 1024 } });
    const plan = await planDeployment(ctx, { readState: true });
    const step = plan.steps.find((s) => s.kind === "lambda-function");
    expect(step?.action).toBe(StepAction.Update);
    expect(step?.details).toEqual(["memory (MB) 1024 → 1536"]);
    await applyPlan(plan);
    expect(writesSent(mocks)).toEqual(["UpdateFunctionConfigurationCommand"]);
  });

  it("uploads the code again, and only the code, when the zip changed", async () => {
    deployedState(mocks, p.config);
    const plan = await planDeployment({ ...ctx, pkg: { ...fakePackage, sha256: "bmV3LWNvZGU=" } }, { readState: true });
    await applyPlan(plan);
    expect(writesSent(mocks)).toEqual(["UpdateFunctionCodeCommand"]);
    expect(mocks.lambda.commandCalls(UpdateFunctionCodeCommand)[0]?.args[0].input.Architectures).toEqual(["x86_64"]);
  });

  it("puts ReportBatchItemFailures back on a mapping that lost it", async () => {
    deployedState(mocks, p.config);
    mocks.lambda.on(ListEventSourceMappingsCommand).resolves({
      EventSourceMappings: [
        {
          UUID: "mapping-1",
          FunctionArn: deploymentArns(p.config, ACCOUNT).function,
          BatchSize: 5,
          ScalingConfig: { MaximumConcurrency: 5 },
          State: "Enabled",
        },
      ],
    });
    const plan = await planDeployment(ctx, { readState: true });
    expect(plan.steps.find((s) => s.kind === "event-source-mapping")?.details).toEqual(["add ReportBatchItemFailures"]);
    await applyPlan(plan);
    expect(mocks.lambda.commandCalls(UpdateEventSourceMappingCommand)[0]?.args[0].input).toMatchObject({
      UUID: "mapping-1",
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("without LabRole creates a least-privilege role and retries while IAM propagates it", async () => {
    freshAccount(mocks);
    const names = deploymentNames(p.config);
    mocks.iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: "no such role", ...meta }));
    mocks.lambda
      .on(CreateFunctionCommand)
      .rejectsOnce(
        new InvalidParameterValueException({
          message: "The role defined for the function cannot be assumed by Lambda.",
          ...meta,
        }),
      )
      .resolves({});
    const plan = await planDeployment(ctx, { readState: true });
    expect(plan.steps.find((s) => s.kind === "iam-role")).toMatchObject({ name: names.role, action: "create" });

    await applyPlan(plan);
    expect(mocks.iam.commandCalls(CreateRoleCommand)[0]?.args[0].input.RoleName).toBe(names.role);
    const put = mocks.iam.commandCalls(PutRolePolicyCommand)[0]?.args[0].input;
    expect(JSON.parse(put?.PolicyDocument ?? "{}")).toEqual(handlerPolicy(p.config, deploymentArns(p.config, ACCOUNT)));
    const creates = mocks.lambda.commandCalls(CreateFunctionCommand);
    expect(creates).toHaveLength(2);
    expect(creates[1]?.args[0].input.Role).toBe(`arn:aws:iam::${ACCOUNT}:role/${names.role}`);
  });

  it("uses LAMBDA_ROLE_ARN as given, without looking for roles", async () => {
    freshAccount(mocks);
    const roleArn = "arn:aws:iam::123456789012:role/custom";
    const plan = await planDeployment(
      { ...ctx, config: { ...p.config, lambda: { ...p.config.lambda, roleArn } } },
      { readState: true },
    );
    expect(plan.steps.find((s) => s.kind === "iam-role")).toMatchObject({ name: roleArn, action: "use" });
    expect(mocks.iam.calls()).toHaveLength(0);
  });

  it("refuses, and writes nothing, when the queue's visibility timeout is under six function timeouts", async () => {
    freshAccount(mocks);
    const config = { ...p.config, lambda: { ...p.config.lambda, timeoutSeconds: 60 } };
    const plan = await planDeployment({ ...ctx, config }, { readState: true });
    expect(plan.steps.find((s) => s.kind === "sqs-queue")?.action).toBe(StepAction.Refuse);
    expect(plan.problems.join("\n")).toMatch(
      /VISIBILITY_TIMEOUT_SECONDS=10 is less than 6 × LAMBDA_TIMEOUT_SECONDS=60/,
    );
    await expect(applyPlan(plan)).rejects.toBeInstanceOf(DeployError);
    expect(writesSent(mocks)).toEqual([]);
  });

  it("without credentials plans from the configuration alone and calls no AWS API", async () => {
    const plan = await planDeployment(ctx, { readState: false });
    expect(plan.account).toBe("<account-id>");
    expect(plan.steps.map((s) => s.kind)).toEqual([
      "bootstrap",
      "sqs-queue",
      "iam-role",
      "log-group",
      "lambda-function",
      "event-source-mapping",
      "cloudwatch-alarm",
    ]);
    const text = plan.steps.flatMap((s) => [s.name, ...s.details]).join("\n");
    for (const expected of [
      "nodejs24.x, x86_64, 1536 MB, timeout 1 s",
      "ReportBatchItemFailures",
      "batch size 5",
      "at most 5 concurrent invocations",
      "retention 14 days",
      "VisibilityTimeout 10 s ≥ 6 × function timeout 1 s = 6 s",
      "AWS/Lambda Errors ≥ 1",
      `${p.config.names.prefix}-dead-letters`,
      "LabRole if the account has it",
      "dynamodb:PutItem",
    ]) {
      expect(text).toContain(expected);
    }
    expect(stubs(mocks).flatMap((m) => m.calls())).toEqual([]);
  });

  it("refuses on a backend without Lambda (the embedded stack)", async () => {
    for (const mock of stubs(mocks)) mock.restore();
    const plan = await planDeployment(ctx, { readState: true });
    expect(plan.problems.join("\n")).toMatch(/no Lambda service/);
    await expect(applyPlan(plan)).rejects.toBeInstanceOf(DeployError);
  });
});

describe("teardown of a deployment", () => {
  let config: Config;
  let deploy: DeployClients;
  let mocks: Mocks;

  beforeEach(() => {
    config = testConfig();
    deploy = createDeployClients(config);
    mocks = mockAll(deploy);
  });
  afterEach(() => {
    for (const mock of stubs(mocks)) mock.restore();
    destroyDeployClients(deploy);
  });

  it("removes the mapping, the function, its log group, its alarm and the role deploy created", async () => {
    const names = deploymentNames(config);
    mocks.lambda.on(ListEventSourceMappingsCommand).resolves({
      EventSourceMappings: [{ UUID: "m-1", EventSourceArn: "arn:aws:sqs:us-east-1:0:q" }],
    });
    mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: names.errorsAlarm }] });
    const removed = await teardownDeployment(config, deploy);
    expect(removed.map((r) => r.kind)).toEqual([
      "event-source-mapping",
      "lambda-function",
      "log-group",
      "cloudwatch-alarm",
      "iam-role",
    ]);
    expect(mocks.lambda.commandCalls(DeleteEventSourceMappingCommand)[0]?.args[0].input).toEqual({ UUID: "m-1" });
    expect(mocks.lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(1);
    expect(mocks.logs.commandCalls(DeleteLogGroupCommand)[0]?.args[0].input.logGroupName).toBe(names.logGroup);
    expect(mocks.cloudwatch.commandCalls(DeleteAlarmsCommand)).toHaveLength(1);
    expect(mocks.iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(1);
    expect(mocks.iam.commandCalls(DeleteRoleCommand)[0]?.args[0].input.RoleName).toBe(names.role);
  });

  it("is a no-op when nothing was deployed", async () => {
    mocks.lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [] });
    mocks.lambda.on(DeleteFunctionCommand).rejects(new ResourceNotFoundException({ message: "no", ...meta }));
    mocks.logs.on(DeleteLogGroupCommand).rejects(new LogGroupNotFound({ message: "no", ...meta }));
    mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    mocks.iam.on(DeleteRolePolicyCommand).rejects(new NoSuchEntityException({ message: "no", ...meta }));
    mocks.iam.on(DeleteRoleCommand).rejects(new NoSuchEntityException({ message: "no", ...meta }));
    expect(await teardownDeployment(config, deploy)).toEqual([]);
  });

  it("never deletes a role it was given", async () => {
    mocks.lambda.on(DeleteFunctionCommand).rejects(new ResourceNotFoundException({ message: "no", ...meta }));
    mocks.logs.on(DeleteLogGroupCommand).rejects(new LogGroupNotFound({ message: "no", ...meta }));
    mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    const given = { ...config, lambda: { ...config.lambda, roleArn: "arn:aws:iam::123456789012:role/LabRole" } };
    await teardownDeployment(given, deploy);
    expect(mocks.iam.calls()).toEqual([]);
  });

  it("is a no-op on the embedded stack, which has no Lambda (not mocked)", async () => {
    for (const mock of stubs(mocks)) mock.restore();
    expect(await teardownDeployment(config, deploy)).toEqual([]);
  });
});

describe("the local worker", () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await createPipeline();
  });
  afterAll(() => p.close());

  /** The check as the worker makes it: its own Lambda client, the queue it has looked up. */
  async function warnIfLambdaConsumes(logger: Logger): Promise<void> {
    const url = (await queueUrl(p.clients, p.config.names.queue)) ?? "";
    const queue = { name: p.config.names.queue, arn: (await queueArn(p.clients, url)) ?? "" };
    const lambda = new LambdaClient(clientOptions(p.config));
    try {
      await warnIfLambdaConsumesQueue(lambda, queue, logger);
    } finally {
      lambda.destroy();
    }
  }

  function captureLogs() {
    const lines: { level: string; msg: string }[] = [];
    return { lines, logger: createLogger("debug", {}, (line) => lines.push(JSON.parse(line))) };
  }

  it("warns at start when a Lambda event source mapping also consumes its queue (Lambda mocked)", async () => {
    const lambda = mockClient(LambdaClient);
    try {
      lambda.on(ListEventSourceMappingsCommand).resolves({
        EventSourceMappings: [{ UUID: "m", State: "Enabled", FunctionArn: "arn:aws:lambda:us-east-1:0:function:f" }],
      });
      const { lines, logger } = captureLogs();
      await warnIfLambdaConsumes(logger);
      expect(lines.filter((l) => l.level === "warn").map((l) => l.msg)).toEqual([
        expect.stringContaining("a Lambda function also consumes this queue"),
      ]);
      expect(lambda.commandCalls(ListEventSourceMappingsCommand)[0]?.args[0].input.EventSourceArn).toMatch(
        new RegExp(`:${p.config.names.queue}$`),
      );
    } finally {
      lambda.restore();
    }
  });

  it("stays quiet where there is no Lambda, or the mapping is disabled", async () => {
    const quiet = captureLogs();
    await warnIfLambdaConsumes(quiet.logger);
    expect(quiet.lines.filter((l) => l.level === "warn")).toEqual([]);

    const lambda = mockClient(LambdaClient);
    try {
      lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: "m", State: "Disabled" }] });
      const disabled = captureLogs();
      await warnIfLambdaConsumes(disabled.logger);
      expect(disabled.lines.filter((l) => l.level === "warn")).toEqual([]);
    } finally {
      lambda.restore();
    }
  });
});
