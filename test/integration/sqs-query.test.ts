import { randomBytes } from "node:crypto";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, inject, it } from "vitest";

// SQS's query protocol in the forms no SDK here sends but older tools and hand-written
// scripts do: GET with the parameters in the URL, and a form POST to the queue URL itself
// (SQS API reference, "Making query API requests"). Real SDKs are in test/compat/.
const endpoint = inject("endpoint");
// htmlEntities: decode character references such as &#xD; as a conforming XML parser does.
const parser = new XMLParser({ htmlEntities: true, isArray: (name) => name === "Message" || name === "Attribute" });

// biome-ignore lint/suspicious/noExplicitAny: parsed XML, its shape is what the assertions check
type Xml = any;

async function call(path: string, init?: RequestInit): Promise<{ status: number; doc: Xml }> {
  const res = await fetch(new URL(path, endpoint), init);
  expect(res.headers.get("content-type")).toMatch(/xml/);
  return { status: res.status, doc: parser.parse(await res.text()) };
}

function form(params: Record<string, string>): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  };
}

describe("SQS query protocol by hand", () => {
  it("creates a queue by GET, sends by POST to the queue URL, receives by GET and deletes", async () => {
    const name = `query-${randomBytes(4).toString("hex")}`;
    const created = await call(`/?Action=CreateQueue&QueueName=${name}&Version=2012-11-05`);
    expect(created.status).toBe(200);
    const queueUrl: string = created.doc.CreateQueueResponse.CreateQueueResult.QueueUrl;
    expect(queueUrl).toMatch(new RegExp(`/000000000000/${name}$`));
    const queuePath = `/000000000000/${name}`;

    const sent = await call(queuePath, form({ Action: "SendMessage", MessageBody: "line one\r\nline two <&>" }));
    expect(sent.status).toBe(200);
    expect(sent.doc.SendMessageResponse.SendMessageResult.MessageId).toBeTruthy();

    const received = await call(
      `${queuePath}?Action=ReceiveMessage&AttributeName.1=ApproximateReceiveCount&WaitTimeSeconds=1&Version=2012-11-05`,
    );
    const [message] = received.doc.ReceiveMessageResponse.ReceiveMessageResult.Message;
    // The carriage return survives the XML round trip: the body is byte-identical.
    expect(message.Body).toBe("line one\r\nline two <&>");
    expect(message.Attribute).toEqual([{ Name: "ApproximateReceiveCount", Value: 1 }]);

    // An unsigned form POST to "/" could as well be SNS's query protocol: the queue URL or a
    // Version in the URL says it is SQS (real clients sign, naming the service).
    const deleted = await call(queuePath, form({ Action: "DeleteMessage", ReceiptHandle: message.ReceiptHandle }));
    expect(deleted.status).toBe(200);
    expect(deleted.doc.DeleteMessageResponse.ResponseMetadata.RequestId).toBeTruthy();
    const again = await call(`${queuePath}?Action=ReceiveMessage&Version=2012-11-05`);
    expect(again.doc.ReceiveMessageResponse.ReceiveMessageResult).toBe("");
    const gone = await call(`/?Action=DeleteQueue&Version=2012-11-05&QueueUrl=${encodeURIComponent(queueUrl)}`);
    expect(gone.status).toBe(200);
  });

  it("answers a missing queue with SQS's ErrorResponse, code AWS.SimpleQueueService.NonExistentQueue, status 400", async () => {
    const { status, doc } = await call(`/?Action=GetQueueUrl&QueueName=no-such-queue-${Date.now()}&Version=2012-11-05`);
    expect(status).toBe(400);
    expect(doc.ErrorResponse.Error).toMatchObject({ Type: "Sender", Code: "AWS.SimpleQueueService.NonExistentQueue" });
    expect(doc.ErrorResponse.RequestId).toBeTruthy();
  });
});
