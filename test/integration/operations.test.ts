import { SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findTopic, queueUrl } from "../../src/aws/lookups.ts";
import { createPipeline, drainQueue, jpeg, type Pipeline, waitFor } from "../helpers.ts";
import { runScript } from "../worker-process.ts";

describe("status, redrive and failure alerts", () => {
  let p: Pipeline;
  let alertsUrl: string;
  beforeAll(async () => {
    p = await createPipeline({ worker: false });
    // Watch the failure topic through a queue subscribed to it.
    alertsUrl =
      (await p.clients.sqs.send(new CreateQueueCommand({ QueueName: `${p.config.names.prefix}-alerts` }))).QueueUrl ??
      "";
    const { Attributes } = await p.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: alertsUrl, AttributeNames: ["QueueArn"] }),
    );
    await p.clients.sns.send(
      new SubscribeCommand({
        TopicArn: await findTopic(p.clients, p.config.names.failureTopic),
        Protocol: "sqs",
        Endpoint: Attributes?.QueueArn,
        Attributes: { RawMessageDelivery: "true" },
      }),
    );
  });
  afterAll(() => p.close());

  it("alerts the failure topic when an image fails, where no CloudWatch alarm would", async () => {
    const { startWorker } = await import("../../src/pipeline/worker.ts");
    const { silentLogger } = await import("../../src/logger.ts");
    const worker = await startWorker({ config: p.config, clients: p.clients, logger: silentLogger });
    try {
      const bad = await p.upload("garbage.png", Buffer.from("not a png at all"), "image/png");
      await p.upload("good.jpg", await jpeg(300, 200));
      await p.waitForItem(bad);
      const alerts = await waitFor(
        async () => {
          const bodies = await drainQueue(p.clients, alertsUrl, 1);
          return bodies.length > 0 ? bodies : undefined;
        },
        10_000,
        "an alert",
      );
      expect(JSON.parse(alerts[0] ?? "{}")).toMatchObject({ key: bad, errorCode: "NOT_AN_IMAGE" });
      await p.waitForItem("uploads/good.jpg");
    } finally {
      await worker.stop();
    }
  });

  it("npm run status reports queue depths, counts by status and the last failures", async () => {
    const { code, stdout } = await runScript(p.config, "src/cli/status.ts", ["--json"]);
    expect(code).toBe(0);
    const status = JSON.parse(stdout);
    expect(status.counts).toMatchObject({ PROCESSED: 1, FAILED: 1, total: 2 });
    expect(status.queue).toEqual({ waiting: 0, inFlight: 0 });
    expect(status.deadLetters).toEqual({ waiting: 0, inFlight: 0 });
    expect(status.lastFailures).toMatchObject([{ name: "garbage.png", errorCode: "NOT_AN_IMAGE" }]);
    const human = await runScript(p.config, "src/cli/status.ts");
    expect(human.stdout).toContain("1 processed, 1 failed");
    expect(human.stdout).toContain("garbage.png");
  });

  it("npm run redrive moves dead letters back to the queue", async () => {
    const dlq = (await queueUrl(p.clients, p.config.names.deadLetterQueue)) ?? "";
    for (const i of [1, 2, 3]) {
      await p.clients.sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: JSON.stringify({ n: i }) }));
    }
    const { code, stdout } = await runScript(p.config, "src/cli/redrive.ts");
    expect(code).toBe(0);
    expect(stdout).toContain("Moved 3 message(s)");
    expect(await drainQueue(p.clients, dlq)).toEqual([]);
    expect((await drainQueue(p.clients, p.queueUrl)).sort()).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect((await runScript(p.config, "src/cli/redrive.ts")).stdout).toContain("nothing to redrive");
  });
});
