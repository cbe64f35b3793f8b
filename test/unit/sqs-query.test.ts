import type { IncomingMessage } from "node:http";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import {
  errorXml,
  isSqsQueryRequest,
  queryToJson,
  SQS_XML_NAMESPACE,
  SqsQueryError,
  successXml,
} from "../../src/embedded/sqs-query.ts";

// The parameter lists below are what botocore 1.29 (Debian 12's python3-botocore, the
// query-protocol SQS model) serialises for these calls: captured with
// botocore.serialize.create_serializer("query").serialize_to_request(...).
const QUEUE = "http://localhost:4566/000000000000/q";

function params(entries: Record<string, string>): URLSearchParams {
  return new URLSearchParams(entries);
}

describe("queryToJson: query-protocol parameters to the JSON protocol's input", () => {
  it("turns flattened attribute and tag maps into objects (CreateQueue's JSON member is `tags`)", () => {
    const input = queryToJson(
      "CreateQueue",
      params({
        Action: "CreateQueue",
        Version: "2012-11-05",
        QueueName: "q",
        "Attribute.1.Name": "VisibilityTimeout",
        "Attribute.1.Value": "5",
        "Attribute.2.Name": "DelaySeconds",
        "Attribute.2.Value": "0",
        "Tag.1.Key": "t",
        "Tag.1.Value": "v",
      }),
    );
    expect(input).toEqual({
      QueueName: "q",
      Attributes: { VisibilityTimeout: "5", DelaySeconds: "0" },
      tags: { t: "v" },
    });
  });

  it("reads message attributes of every data type, and system attributes", () => {
    const input = queryToJson(
      "SendMessage",
      params({
        QueueUrl: QUEUE,
        MessageBody: "hi",
        DelaySeconds: "0",
        "MessageAttribute.1.Name": "s",
        "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "x",
        "MessageAttribute.2.Name": "b",
        "MessageAttribute.2.Value.DataType": "Binary",
        "MessageAttribute.2.Value.BinaryValue": "AAE=",
        "MessageAttribute.3.Name": "l",
        "MessageAttribute.3.Value.DataType": "String",
        "MessageAttribute.3.Value.StringListValue.1": "a",
        "MessageAttribute.3.Value.StringListValue.2": "b",
        "MessageSystemAttribute.1.Name": "AWSTraceHeader",
        "MessageSystemAttribute.1.Value.DataType": "String",
        "MessageSystemAttribute.1.Value.StringValue": "Root=1",
      }),
    );
    expect(input).toEqual({
      QueueUrl: QUEUE,
      MessageBody: "hi",
      DelaySeconds: 0,
      MessageAttributes: {
        s: { DataType: "String", StringValue: "x" },
        b: { DataType: "Binary", BinaryValue: "AAE=" },
        l: { DataType: "String", StringListValues: ["a", "b"] },
      },
      MessageSystemAttributes: { AWSTraceHeader: { DataType: "String", StringValue: "Root=1" } },
    });
  });

  it("orders batch entries by their number, not as text (10 after 2)", () => {
    const entries: Record<string, string> = { QueueUrl: QUEUE };
    for (const n of [10, 2, 1]) {
      entries[`SendMessageBatchRequestEntry.${n}.Id`] = `e${n}`;
      entries[`SendMessageBatchRequestEntry.${n}.MessageBody`] = `body ${n}`;
    }
    entries["SendMessageBatchRequestEntry.1.MessageAttribute.1.Name"] = "n";
    entries["SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType"] = "Number";
    entries["SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue"] = "3";
    expect(queryToJson("SendMessageBatch", params(entries))).toEqual({
      QueueUrl: QUEUE,
      Entries: [
        { Id: "e1", MessageBody: "body 1", MessageAttributes: { n: { DataType: "Number", StringValue: "3" } } },
        { Id: "e2", MessageBody: "body 2" },
        { Id: "e10", MessageBody: "body 10" },
      ],
    });
  });

  it("reads name lists and integers of ReceiveMessage, UntagQueue and the visibility batch", () => {
    expect(
      queryToJson(
        "ReceiveMessage",
        params({
          QueueUrl: QUEUE,
          "AttributeName.1": "All",
          "MessageAttributeName.1": "All",
          MaxNumberOfMessages: "10",
          WaitTimeSeconds: "1",
        }),
      ),
    ).toEqual({
      QueueUrl: QUEUE,
      AttributeNames: ["All"],
      MessageAttributeNames: ["All"],
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
    });
    expect(queryToJson("UntagQueue", params({ QueueUrl: QUEUE, "TagKey.1": "a", "TagKey.2": "b" }))).toEqual({
      QueueUrl: QUEUE,
      TagKeys: ["a", "b"],
    });
    expect(
      queryToJson(
        "ChangeMessageVisibilityBatch",
        params({
          QueueUrl: QUEUE,
          "ChangeMessageVisibilityBatchRequestEntry.1.Id": "1",
          "ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle": "r",
          "ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout": "3",
        }),
      ),
    ).toEqual({ QueueUrl: QUEUE, Entries: [{ Id: "1", ReceiptHandle: "r", VisibilityTimeout: 3 }] });
  });

  it("rejects an integer parameter that is not an integer with InvalidParameterValue", () => {
    const call = () => queryToJson("ReceiveMessage", params({ QueueUrl: QUEUE, WaitTimeSeconds: "soon" }));
    expect(call).toThrow(SqsQueryError);
    expect(call).toThrow(/Value soon for parameter WaitTimeSeconds is invalid/);
  });
});

describe("successXml / errorXml: the JSON protocol's answer as the query protocol's XML", () => {
  const parser = new XMLParser({
    ignoreAttributes: false,
    isArray: (name, jPath) => name === "Attribute" || jPath === "ReceiveMessageResponse.ReceiveMessageResult.Message",
  });

  it("wraps the result in <ActionResponse><ActionResult> with the SQS namespace and a request id", () => {
    const xml = successXml(
      "ReceiveMessage",
      {
        Messages: [
          {
            MessageId: "m1",
            ReceiptHandle: "r1",
            MD5OfBody: "x",
            Body: '{"a":"<&>"}',
            Attributes: { ApproximateReceiveCount: "1" },
            MessageAttributes: { k: { DataType: "String", StringValue: "v" } },
          },
        ],
      },
      "req-1",
    );
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?><ReceiveMessageResponse')).toBe(true);
    const doc = parser.parse(xml).ReceiveMessageResponse;
    expect(doc["@_xmlns"]).toBe(SQS_XML_NAMESPACE);
    expect(doc.ResponseMetadata.RequestId).toBe("req-1");
    expect(doc.ReceiveMessageResult.Message).toEqual([
      {
        MessageId: "m1",
        ReceiptHandle: "r1",
        MD5OfBody: "x",
        Body: '{"a":"<&>"}',
        Attribute: [{ Name: "ApproximateReceiveCount", Value: 1 }],
        MessageAttribute: { Name: "k", Value: { StringValue: "v", DataType: "String" } },
      },
    ]);
  });

  it("keeps a carriage return in a body as a character reference, so the client's MD5 of the body matches", () => {
    const xml = successXml("ReceiveMessage", { Messages: [{ MessageId: "m", Body: "a\r\nb" }] }, "r");
    expect(xml).toContain("<Body>a&#xD;\nb</Body>");
  });

  it("repeats flattened list members and writes booleans as true/false", () => {
    const xml = successXml(
      "DeleteMessageBatch",
      {
        Successful: [{ Id: "a" }, { Id: "b" }],
        Failed: [{ Id: "c", SenderFault: true, Code: "ReceiptHandleIsInvalid", Message: "bad" }],
      },
      "r",
    );
    expect(xml).toContain(
      "<DeleteMessageBatchResult><DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>" +
        "<DeleteMessageBatchResultEntry><Id>b</Id></DeleteMessageBatchResultEntry><BatchResultErrorEntry><Id>c</Id>" +
        "<SenderFault>true</SenderFault><Code>ReceiptHandleIsInvalid</Code><Message>bad</Message></BatchResultErrorEntry>",
    );
    expect(successXml("ListQueues", { QueueUrls: ["u1", "u2"] }, "r")).toContain(
      "<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl></ListQueuesResult>",
    );
  });

  it("answers an action without output with ResponseMetadata only", () => {
    expect(successXml("DeleteMessage", {}, "r")).toBe(
      `<?xml version="1.0" encoding="UTF-8"?><DeleteMessageResponse xmlns="${SQS_XML_NAMESPACE}">` +
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteMessageResponse>",
    );
  });

  it("names errors with the query protocol's codes (QueueDoesNotExist is AWS.SimpleQueueService.NonExistentQueue)", () => {
    const doc = parser.parse(errorXml("QueueDoesNotExist", "The specified queue does not exist.", true, "r"));
    expect(doc.ErrorResponse).toEqual({
      "@_xmlns": SQS_XML_NAMESPACE,
      Error: {
        Type: "Sender",
        Code: "AWS.SimpleQueueService.NonExistentQueue",
        Message: "The specified queue does not exist.",
      },
      RequestId: "r",
    });
    expect(errorXml("QueueNameExists", "m", true, "r")).toContain("<Code>QueueAlreadyExists</Code>");
    expect(errorXml("InvalidParameterValue", "m", true, "r")).toContain("<Code>InvalidParameterValue</Code>");
    expect(errorXml("InternalFailure", "m", false, "r")).toContain("<Type>Receiver</Type>");
  });
});

describe("isSqsQueryRequest: which edge requests are SQS query calls", () => {
  const request = (method: string, contentType?: string) =>
    ({ method, headers: contentType ? { "content-type": contentType } : {} }) as IncomingMessage;
  const url = (path: string) => new URL(path, "http://edge");
  const FORM = "application/x-www-form-urlencoded; charset=utf-8";

  it("takes form posts and Action GETs signed for sqs", () => {
    expect(isSqsQueryRequest(request("POST", FORM), url("/"), "sqs")).toBe(true);
    expect(isSqsQueryRequest(request("GET"), url("/?Action=ListQueues"), "sqs")).toBe(true);
  });

  it("leaves SNS's query protocol, S3 and the JSON protocol alone", () => {
    expect(isSqsQueryRequest(request("POST", FORM), url("/"), "sns")).toBe(false);
    expect(isSqsQueryRequest(request("POST", "application/x-amz-json-1.0"), url("/"), "sqs")).toBe(false);
    expect(isSqsQueryRequest(request("GET"), url("/bucket/key"), "s3")).toBe(false);
    expect(isSqsQueryRequest(request("POST", FORM), url("/"), undefined)).toBe(false);
  });

  it("takes unsigned calls that name the SQS API version or go to a queue URL", () => {
    expect(isSqsQueryRequest(request("GET"), url("/?Action=ListQueues&Version=2012-11-05"), undefined)).toBe(true);
    expect(isSqsQueryRequest(request("POST", FORM), url("/000000000000/q"), undefined)).toBe(true);
  });
});
