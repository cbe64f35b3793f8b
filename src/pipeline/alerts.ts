import { PublishCommand } from "@aws-sdk/client-sns";
import type { Clients } from "../aws/clients.ts";
import { existingAlarms } from "../aws/lookups.ts";
import type { Config } from "../config.ts";
import type { ImageItem } from "../store/metadata.ts";

export type FailureNotifier = (item: ImageItem) => Promise<void>;

/** True when the failure alarm exists, i.e. CloudWatch will notify the topic. */
export async function alarmsActive(config: Config, clients: Clients): Promise<boolean> {
  return (await existingAlarms(config, clients))?.has(config.names.failureAlarm) ?? false;
}

/**
 * Without CloudWatch (the embedded stack) nothing would turn the failure metric into an
 * alert, so each failure is published to the topic directly.
 */
export function directFailureNotifier(clients: Clients, topicArn: string): FailureNotifier {
  return async (item) => {
    await clients.sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: `Image processing failed: ${item.name}`.slice(0, 99),
        Message: JSON.stringify(
          {
            imageId: item.imageId,
            bucket: item.bucket,
            key: item.key,
            errorCode: item.errorCode,
            errorMessage: item.errorMessage,
            uploadDate: item.uploadDate,
          },
          null,
          2,
        ),
      }),
    );
  };
}
