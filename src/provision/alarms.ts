// The pipeline's CloudWatch alarms, all of one shape: "at least 1 in a minute" of a metric
// notifies the failure topic. Bootstrap creates two, deploy adds one on the function.
import type { MetricAlarm, PutMetricAlarmCommandInput } from "@aws-sdk/client-cloudwatch";
import type { Config } from "../config.ts";
import { METRICS_NAMESPACE, Metric } from "../pipeline/metrics.ts";

export type AlarmDefinition = PutMetricAlarmCommandInput & { AlarmName: string };

export interface AlarmSpec {
  name: string;
  description: string;
  namespace: string;
  metric: string;
  /** CloudWatch dimension name → value, e.g. `{ QueueName: "…-dlq" }`. */
  dimension: [name: string, value: string];
  /** Sum for counts of events; Maximum for a gauge such as a queue's depth. */
  statistic?: "Sum" | "Maximum";
}

/**
 * An alarm that fires when the metric reaches 1 within one 60-second period and treats
 * missing data as fine (no traffic is not a failure). CloudWatch PutMetricAlarm input.
 */
export function anyInOneMinute(spec: AlarmSpec, topicArn: string): AlarmDefinition {
  return {
    AlarmName: spec.name,
    AlarmDescription: spec.description,
    Namespace: spec.namespace,
    MetricName: spec.metric,
    Dimensions: [{ Name: spec.dimension[0], Value: spec.dimension[1] }],
    Statistic: spec.statistic ?? "Sum",
    Period: 60,
    EvaluationPeriods: 1,
    Threshold: 1,
    ComparisonOperator: "GreaterThanOrEqualToThreshold",
    TreatMissingData: "notBreaching",
    AlarmActions: [topicArn],
  };
}

/** The alarms bootstrap creates: processing failures, and anything in the dead-letter queue. */
export function alarmDefinitions(config: Config, topicArn: string): AlarmDefinition[] {
  const { names } = config;
  return [
    anyInOneMinute(
      {
        name: names.failureAlarm,
        description: "An uploaded image could not be processed (recorded as FAILED).",
        namespace: METRICS_NAMESPACE,
        metric: Metric.Failed,
        dimension: ["Pipeline", names.prefix],
      },
      topicArn,
    ),
    anyInOneMinute(
      {
        name: names.deadLetterAlarm,
        description: "Messages reached the dead-letter queue after repeated transient failures.",
        namespace: "AWS/SQS",
        metric: "ApproximateNumberOfMessagesVisible",
        statistic: "Maximum",
        dimension: ["QueueName", names.deadLetterQueue],
      },
      topicArn,
    ),
  ];
}

/** True when the alarm CloudWatch describes already has every setting `wanted` asks for. */
export function sameAlarm(current: MetricAlarm, wanted: PutMetricAlarmCommandInput): boolean {
  return (
    current.Namespace === wanted.Namespace &&
    current.MetricName === wanted.MetricName &&
    current.Statistic === wanted.Statistic &&
    current.Period === wanted.Period &&
    current.EvaluationPeriods === wanted.EvaluationPeriods &&
    current.Threshold === wanted.Threshold &&
    current.ComparisonOperator === wanted.ComparisonOperator &&
    current.TreatMissingData === wanted.TreatMissingData &&
    current.AlarmDescription === wanted.AlarmDescription &&
    JSON.stringify(current.AlarmActions ?? []) === JSON.stringify(wanted.AlarmActions) &&
    JSON.stringify(current.Dimensions ?? []) === JSON.stringify(wanted.Dimensions)
  );
}
