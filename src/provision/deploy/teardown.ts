// Removes what `npm run deploy` added: the event source mapping, the function, its log group,
// its alarm and the role deploy created (never LabRole or a LAMBDA_ROLE_ARN role).
import { DeleteAlarmsCommand, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { DeleteLogGroupCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DeleteRoleCommand, DeleteRolePolicyCommand } from "@aws-sdk/client-iam";
import {
  DeleteEventSourceMappingCommand,
  DeleteFunctionCommand,
  paginateListEventSourceMappings,
} from "@aws-sdk/client-lambda";
import { isNotFound, isServiceMissing } from "../../aws/errors.ts";
import type { Config } from "../../config.ts";
import { formatTable } from "../../table.ts";
import type { DeployClients } from "./clients.ts";
import { deploymentNames } from "./spec.ts";

export interface RemovedResource {
  kind: "event-source-mapping" | "lambda-function" | "log-group" | "cloudwatch-alarm" | "iam-role";
  name: string;
}

/**
 * A no-op when nothing was deployed, and on a backend without Lambda (the embedded stack).
 * Run it before the queue is deleted: a mapping outlives its queue otherwise.
 */
export async function teardownDeployment(config: Config, clients: DeployClients): Promise<RemovedResource[]> {
  const names = deploymentNames(config);
  const out: RemovedResource[] = [];

  const functionGone = await absentOn(async () => {
    for await (const page of paginateListEventSourceMappings(
      { client: clients.lambda },
      { FunctionName: names.function },
    )) {
      for (const mapping of page.EventSourceMappings ?? []) {
        if (!mapping.UUID) continue;
        await clients.lambda.send(new DeleteEventSourceMappingCommand({ UUID: mapping.UUID }));
        out.push({ kind: "event-source-mapping", name: `${mapping.EventSourceArn} → ${names.function}` });
      }
    }
    await clients.lambda.send(new DeleteFunctionCommand({ FunctionName: names.function }));
    out.push({ kind: "lambda-function", name: names.function });
  });
  // Nothing more to look for where Lambda itself is missing.
  if (functionGone === "no-service") return out;

  await absentOn(async () => {
    await clients.logs.send(new DeleteLogGroupCommand({ logGroupName: names.logGroup }));
    out.push({ kind: "log-group", name: names.logGroup });
  });

  await absentOn(async () => {
    const found = await clients.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [names.errorsAlarm] }));
    if ((found.MetricAlarms?.length ?? 0) === 0) return;
    await clients.cloudwatch.send(new DeleteAlarmsCommand({ AlarmNames: [names.errorsAlarm] }));
    out.push({ kind: "cloudwatch-alarm", name: names.errorsAlarm });
  });

  if (!config.lambda.roleArn) {
    await absentOn(async () => {
      // A role must lose its inline policies before it can be deleted.
      await clients.iam
        .send(new DeleteRolePolicyCommand({ RoleName: names.role, PolicyName: names.rolePolicy }))
        .catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
      await clients.iam.send(new DeleteRoleCommand({ RoleName: names.role }));
      out.push({ kind: "iam-role", name: names.role });
    });
  }
  return out;
}

/** Runs a removal; "not found" and "no such service here" both mean there is nothing to remove. */
async function absentOn(remove: () => Promise<void>): Promise<"done" | "absent" | "no-service"> {
  try {
    await remove();
    return "done";
  } catch (error) {
    if (isServiceMissing(error)) return "no-service";
    if (isNotFound(error)) return "absent";
    throw error;
  }
}

export function formatRemoved(removed: RemovedResource[]): string {
  return formatTable(
    ["kind", "name", "state"],
    removed.map((r) => [r.kind, r.name, "missing"]),
  );
}
