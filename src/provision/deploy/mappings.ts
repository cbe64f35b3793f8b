import {
  type EventSourceMappingConfiguration,
  LambdaClient,
  paginateListEventSourceMappings,
} from "@aws-sdk/client-lambda";
import { type Clients, clientOptions } from "../../aws/clients.ts";
import { queueArn, queueUrl } from "../../aws/lookups.ts";
import type { Config } from "../../config.ts";
import { errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";

/** Mapping states in which Lambda polls the queue, or is about to. */
const POLLING_STATES = new Set(["Creating", "Enabling", "Enabled", "Updating"]);

/** Every event source mapping on this queue, whatever function it feeds. */
export async function queueMappings(
  lambda: LambdaClient,
  queueArn: string,
): Promise<EventSourceMappingConfiguration[]> {
  const out: EventSourceMappingConfiguration[] = [];
  for await (const page of paginateListEventSourceMappings({ client: lambda }, { EventSourceArn: queueArn })) {
    out.push(...(page.EventSourceMappings ?? []));
  }
  return out;
}

export function isPolling(mapping: EventSourceMappingConfiguration): boolean {
  return POLLING_STATES.has(mapping.State ?? "");
}

/**
 * A local worker and a Lambda function on the same queue split its messages between them,
 * which is rarely what anyone meant: say so when the worker starts. Backends without Lambda
 * (the embedded stack) and missing permissions are not worth a warning.
 */
export async function warnIfLambdaConsumesQueue(config: Config, clients: Clients, logger: Logger): Promise<void> {
  const lambda = new LambdaClient(clientOptions(config));
  try {
    const url = await queueUrl(clients, config.names.queue);
    if (!url) return;
    const arn = await queueArn(clients, url);
    if (!arn) return;
    const active = (await queueMappings(lambda, arn)).filter(isPolling);
    if (active.length === 0) return;
    logger.warn(
      "a Lambda function also consumes this queue: each upload goes to either it or this worker. " +
        "Stop one of them unless that is intended (`npm run teardown` removes the function with the rest).",
      { queue: config.names.queue, functions: active.map((m) => m.FunctionArn) },
    );
  } catch (error) {
    logger.debug("could not check for Lambda event source mappings", { reason: errorMessage(error) });
  } finally {
    lambda.destroy();
  }
}
