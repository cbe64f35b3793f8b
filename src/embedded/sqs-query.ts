import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { XMLBuilder, type XmlBuilderOptions } from "fast-xml-parser";

/**
 * SQS's query protocol in front of fauxqs, which speaks only SQS's JSON protocol.
 *
 * The AWS CLI v2 before 2.13.x, boto3 before 1.34 (Debian 12's `awscli` and `python3-boto3`)
 * and the AWS SDK for JavaScript v2 send SQS calls as form-encoded `Action=…&Version=2012-11-05`
 * and expect XML back. The edge translates such a request into the JSON action (same names,
 * `X-Amz-Target: AmazonSQS.<Action>`), lets fauxqs do the work, and writes fauxqs's answer
 * back as the query protocol's XML, errors included. The wire shapes (flattened lists such
 * as `AttributeName.1`, maps such as `Attribute.1.Name`/`Attribute.1.Value`, result
 * wrappers, error codes) are those of the query-protocol SQS model, botocore
 * `data/sqs/2012-11-05/service-2.json` up to 1.31, and of the SQS API reference's
 * "Making query API requests" page.
 */

export const SQS_QUERY_VERSION = "2012-11-05";
export const SQS_XML_NAMESPACE = `http://queue.amazonaws.com/doc/${SQS_QUERY_VERSION}/`;

/** fauxqs takes at most this much per request (its Fastify bodyLimit). */
const MAX_BODY_BYTES = 11 * 1_048_576;

// ---- Wire shapes -----------------------------------------------------------------------

/**
 * A shape of the query-protocol model. Lists and maps are always "flattened" in SQS: a
 * list is `<member>.1`, `<member>.2`…, a map is `<entry>.N.<key>` and `<entry>.N.<value>`;
 * in XML the same names repeat as elements. Structure members keep their JSON names.
 */
type Shape =
  | "string"
  | "integer"
  | "boolean"
  | { list: Shape; member: string }
  | { map: Shape; entry: string; key: string; value: string }
  | Struct;
interface Struct {
  struct: Record<string, Shape>;
}

const attributeMap: Shape = { map: "string", entry: "Attribute", key: "Name", value: "Value" };
const tagMap: Shape = { map: "string", entry: "Tag", key: "Key", value: "Value" };
const messageAttributeValue: Struct = {
  struct: {
    StringValue: "string",
    BinaryValue: "string", // base64 on both protocols
    StringListValues: { list: "string", member: "StringListValue" },
    BinaryListValues: { list: "string", member: "BinaryListValue" },
    DataType: "string",
  },
};
const messageAttributes: Shape = { map: messageAttributeValue, entry: "MessageAttribute", key: "Name", value: "Value" };
const messageSystemAttributes: Shape = {
  map: messageAttributeValue,
  entry: "MessageSystemAttribute",
  key: "Name",
  value: "Value",
};
const failed: Shape = {
  list: { struct: { Id: "string", SenderFault: "boolean", Code: "string", Message: "string" } },
  member: "BatchResultErrorEntry",
};
const sendFields = {
  MessageBody: "string",
  DelaySeconds: "integer",
  MessageAttributes: messageAttributes,
  MessageSystemAttributes: messageSystemAttributes,
  MessageDeduplicationId: "string",
  MessageGroupId: "string",
} as const satisfies Record<string, Shape>;
const sendResultFields = {
  MD5OfMessageBody: "string",
  MD5OfMessageAttributes: "string",
  MD5OfMessageSystemAttributes: "string",
  MessageId: "string",
  SequenceNumber: "string",
} as const satisfies Record<string, Shape>;

interface ActionShapes {
  input: Struct;
  /** Absent: the XML answer carries only ResponseMetadata (no `<Action>Result`). */
  output?: Struct;
}

/** Every SQS action of the query-protocol model that fauxqs implements. */
export const SQS_QUERY_ACTIONS: Record<string, ActionShapes> = {
  CreateQueue: {
    // The JSON protocol spells this member `tags`, lower case; the query name is `Tag`.
    input: { struct: { QueueName: "string", Attributes: attributeMap, tags: tagMap } },
    output: { struct: { QueueUrl: "string" } },
  },
  DeleteQueue: { input: { struct: { QueueUrl: "string" } } },
  GetQueueUrl: {
    input: { struct: { QueueName: "string", QueueOwnerAWSAccountId: "string" } },
    output: { struct: { QueueUrl: "string" } },
  },
  ListQueues: {
    input: { struct: { QueueNamePrefix: "string", NextToken: "string", MaxResults: "integer" } },
    output: { struct: { QueueUrls: { list: "string", member: "QueueUrl" }, NextToken: "string" } },
  },
  GetQueueAttributes: {
    input: { struct: { QueueUrl: "string", AttributeNames: { list: "string", member: "AttributeName" } } },
    output: { struct: { Attributes: attributeMap } },
  },
  SetQueueAttributes: { input: { struct: { QueueUrl: "string", Attributes: attributeMap } } },
  PurgeQueue: { input: { struct: { QueueUrl: "string" } } },
  SendMessage: {
    input: { struct: { QueueUrl: "string", ...sendFields } },
    output: { struct: sendResultFields },
  },
  SendMessageBatch: {
    input: {
      struct: {
        QueueUrl: "string",
        Entries: { list: { struct: { Id: "string", ...sendFields } }, member: "SendMessageBatchRequestEntry" },
      },
    },
    output: {
      struct: {
        Successful: { list: { struct: { Id: "string", ...sendResultFields } }, member: "SendMessageBatchResultEntry" },
        Failed: failed,
      },
    },
  },
  ReceiveMessage: {
    input: {
      struct: {
        QueueUrl: "string",
        AttributeNames: { list: "string", member: "AttributeName" },
        MessageSystemAttributeNames: { list: "string", member: "MessageSystemAttributeName" },
        MessageAttributeNames: { list: "string", member: "MessageAttributeName" },
        MaxNumberOfMessages: "integer",
        VisibilityTimeout: "integer",
        WaitTimeSeconds: "integer",
        ReceiveRequestAttemptId: "string",
      },
    },
    output: {
      struct: {
        Messages: {
          list: {
            struct: {
              MessageId: "string",
              ReceiptHandle: "string",
              MD5OfBody: "string",
              Body: "string",
              Attributes: attributeMap,
              MD5OfMessageAttributes: "string",
              MessageAttributes: messageAttributes,
            },
          },
          member: "Message",
        },
      },
    },
  },
  DeleteMessage: { input: { struct: { QueueUrl: "string", ReceiptHandle: "string" } } },
  DeleteMessageBatch: {
    input: {
      struct: {
        QueueUrl: "string",
        Entries: {
          list: { struct: { Id: "string", ReceiptHandle: "string" } },
          member: "DeleteMessageBatchRequestEntry",
        },
      },
    },
    output: {
      struct: {
        Successful: { list: { struct: { Id: "string" } }, member: "DeleteMessageBatchResultEntry" },
        Failed: failed,
      },
    },
  },
  ChangeMessageVisibility: {
    input: { struct: { QueueUrl: "string", ReceiptHandle: "string", VisibilityTimeout: "integer" } },
  },
  ChangeMessageVisibilityBatch: {
    input: {
      struct: {
        QueueUrl: "string",
        Entries: {
          list: { struct: { Id: "string", ReceiptHandle: "string", VisibilityTimeout: "integer" } },
          member: "ChangeMessageVisibilityBatchRequestEntry",
        },
      },
    },
    output: {
      struct: {
        Successful: { list: { struct: { Id: "string" } }, member: "ChangeMessageVisibilityBatchResultEntry" },
        Failed: failed,
      },
    },
  },
  ListQueueTags: { input: { struct: { QueueUrl: "string" } }, output: { struct: { Tags: tagMap } } },
  TagQueue: { input: { struct: { QueueUrl: "string", Tags: tagMap } } },
  UntagQueue: { input: { struct: { QueueUrl: "string", TagKeys: { list: "string", member: "TagKey" } } } },
};

/**
 * Query error codes where they differ from the JSON protocol's `__type`: the `error.code`
 * of the query-protocol SQS model (botocore ≤ 1.31). boto3 1.26 maps these codes to its
 * modelled exceptions, e.g. `client.exceptions.QueueDoesNotExist`.
 */
const QUERY_ERROR_CODES: Record<string, string> = {
  QueueDoesNotExist: "AWS.SimpleQueueService.NonExistentQueue",
  QueueNameExists: "QueueAlreadyExists",
  QueueDeletedRecently: "AWS.SimpleQueueService.QueueDeletedRecently",
  MessageNotInflight: "AWS.SimpleQueueService.MessageNotInflight",
  PurgeQueueInProgress: "AWS.SimpleQueueService.PurgeQueueInProgress",
  UnsupportedOperation: "AWS.SimpleQueueService.UnsupportedOperation",
  TooManyEntriesInBatchRequest: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
  EmptyBatchRequest: "AWS.SimpleQueueService.EmptyBatchRequest",
  BatchEntryIdsNotDistinct: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
  InvalidBatchEntryId: "AWS.SimpleQueueService.InvalidBatchEntryId",
  BatchRequestTooLong: "AWS.SimpleQueueService.BatchRequestTooLong",
};

/** A request the edge answers itself with a query-protocol error (status 400). */
export class SqsQueryError extends Error {
  override name = "SqsQueryError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// ---- Request: form parameters -> JSON input ------------------------------------------

/**
 * The JSON input for `action` from its query parameters, e.g.
 * `{"Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "5"}` ->
 * `{Attributes: {VisibilityTimeout: "5"}}`. Integers become numbers; unknown parameters
 * are dropped, as SQS ignores them.
 * @throws SqsQueryError InvalidParameterValue for an integer parameter that is not one.
 */
export function queryToJson(action: string, params: URLSearchParams): Record<string, unknown> {
  const shapes = SQS_QUERY_ACTIONS[action];
  const flat = new Map(params);
  return shapes ? readStruct(shapes.input, "", flat) : {};
}

function readStruct(shape: Struct, prefix: string, flat: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(shape.struct)) {
    const value =
      typeof member === "object" && ("list" in member || "map" in member)
        ? read(member, `${prefix}${"list" in member ? member.member : member.entry}`, flat)
        : read(member, `${prefix}${name}`, flat);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function read(shape: Shape, name: string, flat: Map<string, string>): unknown {
  if (shape === "string") return flat.get(name);
  if (shape === "integer") {
    const text = flat.get(name);
    if (text === undefined) return undefined;
    if (!/^-?\d+$/.test(text)) {
      throw new SqsQueryError(
        "InvalidParameterValue",
        `Value ${text} for parameter ${name} is invalid. Reason: Must be an integer.`,
      );
    }
    return Number(text);
  }
  if (shape === "boolean") {
    const text = flat.get(name);
    return text === undefined ? undefined : text === "true";
  }
  if ("struct" in shape) {
    const value = readStruct(shape, `${name}.`, flat);
    return Object.keys(value).length > 0 ? value : undefined;
  }
  const indexes = indexesUnder(name, flat);
  if (indexes.length === 0) return undefined;
  if ("list" in shape) return indexes.map((i) => read(shape.list, `${name}.${i}`, flat));
  const map: Record<string, unknown> = {};
  for (const i of indexes) {
    const key = flat.get(`${name}.${i}.${shape.key}`);
    if (key !== undefined) map[key] = read(shape.map, `${name}.${i}.${shape.value}`, flat);
  }
  return map;
}

/** The N of every `<name>.N` or `<name>.N.…` parameter, in ascending order. */
function indexesUnder(name: string, flat: Map<string, string>): number[] {
  const indexes = new Set<number>();
  for (const key of flat.keys()) {
    if (!key.startsWith(`${name}.`)) continue;
    const index = key.slice(name.length + 1).split(".")[0] ?? "";
    if (/^\d+$/.test(index)) indexes.add(Number(index));
  }
  return [...indexes].sort((a, b) => a - b);
}

// ---- Response: JSON output -> XML ----------------------------------------------------

const builder = new XMLBuilder({
  ignoreAttributes: false,
  suppressEmptyNode: true,
  // Carriage returns must survive an XML parser's end-of-line normalisation (XML 1.0
  // §2.11), or the client's MD5-of-body check fails for a body with "\r\n".
  entities: [
    { regex: /&/g, val: "&amp;" },
    { regex: />/g, val: "&gt;" },
    { regex: /</g, val: "&lt;" },
    { regex: /'/g, val: "&apos;" },
    { regex: /"/g, val: "&quot;" },
    { regex: /\r/g, val: "&#xD;" },
  ],
} as XmlBuilderOptions);

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/**
 * The query protocol's answer to a successful `action`: `<ActionResponse xmlns=…>` with
 * `<ActionResult>` (when the action has an output) and `<ResponseMetadata><RequestId>`.
 */
export function successXml(action: string, output: Record<string, unknown>, requestId: string): string {
  const shape = SQS_QUERY_ACTIONS[action]?.output;
  const body: Record<string, unknown> = { "@_xmlns": SQS_XML_NAMESPACE };
  if (shape) body[`${action}Result`] = writeStruct(shape, output);
  body.ResponseMetadata = { RequestId: requestId };
  return XML_DECLARATION + builder.build({ [`${action}Response`]: body });
}

/**
 * The query protocol's error document:
 * `<ErrorResponse><Error><Type/><Code/><Message/><Detail/></Error><RequestId/></ErrorResponse>`.
 * `code` is the JSON protocol's error name; it is translated to the query code.
 */
export function errorXml(code: string, message: string, senderFault: boolean, requestId: string): string {
  return (
    XML_DECLARATION +
    builder.build({
      ErrorResponse: {
        "@_xmlns": SQS_XML_NAMESPACE,
        Error: {
          Type: senderFault ? "Sender" : "Receiver",
          Code: QUERY_ERROR_CODES[code] ?? code,
          Message: message,
        },
        RequestId: requestId,
      },
    })
  );
}

function writeStruct(shape: Struct, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(shape.struct)) {
    const field = value[name];
    if (field === undefined || field === null) continue;
    if (typeof member === "object" && "list" in member) {
      out[member.member] = (field as unknown[]).map((item) => write(member.list, item));
    } else if (typeof member === "object" && "map" in member) {
      out[member.entry] = Object.entries(field as Record<string, unknown>).map(([key, item]) => ({
        [member.key]: key,
        [member.value]: write(member.map, item),
      }));
    } else {
      out[name] = write(member, field);
    }
  }
  return out;
}

/** A list item or map value: a structure or a scalar (SQS nests no lists in lists). */
function write(shape: Shape, value: unknown): unknown {
  if (typeof shape === "object" && "struct" in shape) return writeStruct(shape, value as Record<string, unknown>);
  return String(value);
}

// ---- The edge's part ---------------------------------------------------------------

/** Matches a queue URL's path, `/<12-digit account>/<queue name>`. */
const QUEUE_PATH = /^\/\d{12}\/[\w.-]+\/?$/;

/**
 * Whether a request is an SQS query-protocol call: form-encoded POST, or GET/POST with
 * `Action` in the query string, signed for `sqs` (SigV4 credential scope). Unsigned
 * requests count when they name the API version in the URL or go to a queue URL; an
 * unsigned form POST to `/` is left to fauxqs, which reads it as SNS (SNS's query
 * protocol uses the same form encoding).
 */
export function isSqsQueryRequest(req: IncomingMessage, url: URL, signedService: string | undefined): boolean {
  const form = (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
  const actionInUrl = url.searchParams.has("Action");
  const shaped = (req.method === "POST" && (form || actionInUrl)) || (req.method === "GET" && actionInUrl);
  if (!shaped) return false;
  if (signedService) return signedService === "sqs";
  return url.searchParams.get("Version") === SQS_QUERY_VERSION || QUEUE_PATH.test(url.pathname);
}

/**
 * Answer one SQS query-protocol request: read its parameters (URL query string and form
 * body), call the JSON action on fauxqs (`port`), write the XML answer with fauxqs's HTTP
 * status. A request to a queue URL without a `QueueUrl` parameter acts on that queue.
 */
export async function handleSqsQuery(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  backend: { port: number; agent: http.Agent },
): Promise<void> {
  const requestId = randomUUID();
  const send = (status: number, xml: string) => {
    res.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": requestId });
    res.end(xml);
  };
  const params = new URLSearchParams(url.search);
  if (req.method === "POST") {
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) {
      send(
        413,
        errorXml("RequestEntityTooLarge", `Request body is larger than ${MAX_BODY_BYTES} bytes.`, true, requestId),
      );
      return;
    }
    for (const [key, value] of new URLSearchParams(body.toString("utf8"))) params.append(key, value);
  }
  const action = params.get("Action");
  if (!action) {
    send(400, errorXml("MissingAction", "The request must contain the parameter Action.", true, requestId));
    return;
  }
  if (!params.has("QueueUrl") && QUEUE_PATH.test(url.pathname)) {
    params.set("QueueUrl", `http://${req.headers.host ?? "localhost"}${url.pathname.replace(/\/$/, "")}`);
  }
  let input: Record<string, unknown>;
  try {
    input = queryToJson(action, params);
  } catch (error) {
    if (!(error instanceof SqsQueryError)) throw error;
    send(400, errorXml(error.code, error.message, true, requestId));
    return;
  }

  // A client that gives up on a long poll must not leave the upstream request behind.
  const abort = new AbortController();
  res.once("close", () => abort.abort());
  const answer = await callJson(backend, action, input, req.headers, abort.signal);
  if (answer.status < 300) {
    send(answer.status, successXml(action, answer.body, requestId));
    return;
  }
  const type = String(answer.body.__type ?? "");
  const code = type.includes("#") ? type.slice(type.indexOf("#") + 1) : type || "InternalFailure";
  const message = String(answer.body.message ?? answer.body.Message ?? "");
  send(answer.status, errorXml(code, message, answer.status < 500, requestId));
}

interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
}

function callJson(
  backend: { port: number; agent: http.Agent },
  action: string,
  input: Record<string, unknown>,
  headers: http.IncomingHttpHeaders,
  signal: AbortSignal,
): Promise<JsonAnswer> {
  const payload = Buffer.from(JSON.stringify(input));
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: "127.0.0.1",
        port: backend.port,
        method: "POST",
        path: "/",
        agent: backend.agent,
        signal,
        headers: {
          // fauxqs builds queue URLs from the Host header and takes the region from the
          // SigV4 credential scope in Authorization; it does not check the signature.
          host: headers.host ?? "localhost",
          ...(headers.authorization && { authorization: headers.authorization }),
          "content-type": "application/x-amz-json-1.0",
          "x-amz-target": `AmazonSQS.${action}`,
          "content-length": payload.length,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: Record<string, unknown> = {};
          try {
            body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            body = { __type: "InternalFailure", message: text.slice(0, 200) };
          }
          resolve({ status: response.statusCode ?? 502, body });
        });
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}

/** The whole body, or undefined when it is longer than `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
