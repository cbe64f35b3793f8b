import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { IAMClient } from "@aws-sdk/client-iam";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { STSClient } from "@aws-sdk/client-sts";
import { clientOptions } from "../../aws/clients.ts";
import type { Config } from "../../config.ts";

/** The control-plane clients only deploy and teardown use; the pipeline itself never does. */
export interface DeployClients {
  lambda: LambdaClient;
  iam: IAMClient;
  logs: CloudWatchLogsClient;
  cloudwatch: CloudWatchClient;
  sts: STSClient;
}

export function createDeployClients(config: Config): DeployClients {
  const base = clientOptions(config);
  return {
    lambda: new LambdaClient(base),
    iam: new IAMClient(base),
    logs: new CloudWatchLogsClient(base),
    cloudwatch: new CloudWatchClient(base),
    sts: new STSClient(base),
  };
}

export function destroyDeployClients(clients: DeployClients): void {
  for (const client of Object.values(clients)) client.destroy();
}

/** Builds the control-plane clients for `config`, runs `work` with them and always destroys them. */
export async function withDeployClients<T>(config: Config, work: (deploy: DeployClients) => Promise<T>): Promise<T> {
  const deploy = createDeployClients(config);
  try {
    return await work(deploy);
  } finally {
    destroyDeployClients(deploy);
  }
}

/** True when the SDK can find credentials, without calling any AWS API. */
export async function hasCredentials(clients: DeployClients): Promise<boolean> {
  try {
    const identity = await clients.sts.config.credentials();
    return Boolean(identity.accessKeyId);
  } catch {
    return false;
  }
}
