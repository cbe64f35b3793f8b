/**
 * CloudWatch embedded metric format: one JSON log line per event. On Lambda, CloudWatch
 * Logs turns these lines into metrics with no API call; locally they are plain logs.
 */
export const METRICS_NAMESPACE = "ImagePipeline";

export const Metric = {
  Processed: "ImagesProcessed",
  Failed: "ImagesFailed",
  Retried: "ImagesRetried",
  Deleted: "ImagesDeleted",
  ProcessingTime: "ProcessingTime",
} as const;
export type Metric = (typeof Metric)[keyof typeof Metric];

export type MetricsSink = (values: Partial<Record<Metric, number>>, context?: Record<string, unknown>) => void;

export function createMetrics(pipeline: string, write: (line: string) => void): MetricsSink {
  return (values, context = {}) => {
    const names = Object.keys(values) as Metric[];
    if (names.length === 0) return;
    write(
      JSON.stringify({
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [
            {
              Namespace: METRICS_NAMESPACE,
              Dimensions: [["Pipeline"]],
              Metrics: names.map((Name) => ({
                Name,
                Unit: Name === Metric.ProcessingTime ? "Milliseconds" : "Count",
              })),
            },
          ],
        },
        Pipeline: pipeline,
        ...context,
        ...values,
      }),
    );
  };
}

export const noMetrics: MetricsSink = () => {};
