import {
  type EventSourceMappingConfiguration,
  type LambdaClient,
  paginateListEventSourceMappings,
} from "@aws-sdk/client-lambda";
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

/** The queue a worker consumes, as it has already looked it up. */
export interface ConsumedQueue {
  name: string;
  /** `arn:aws:sqs:region:account:name`: event source mappings name their queue by ARN. */
  arn: string;
}

/**
 * A local worker and a Lambda function on the same queue split its messages between them,
 * which is rarely what anyone meant: say so when the worker starts. Backends without Lambda
 * (the embedded stack) and missing permissions are not worth a warning. The caller owns
 * `lambda` (it is not destroyed here).
 */
export async function warnIfLambdaConsumesQueue(
  lambda: LambdaClient,
  queue: ConsumedQueue,
  logger: Logger,
): Promise<void> {
  try {
    const active = (await queueMappings(lambda, queue.arn)).filter(isPolling);
    if (active.length === 0) return;
    logger.warn(
      "a Lambda function also consumes this queue: each upload goes to either it or this worker. " +
        "Stop one of them unless that is intended (`npm run teardown` removes the function with the rest).",
      { queue: queue.name, functions: active.map((m) => m.FunctionArn) },
    );
  } catch (error) {
    logger.debug("could not check for Lambda event source mappings", { reason: errorMessage(error) });
  }
}
