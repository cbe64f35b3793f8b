import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { isNotFound } from "../aws/errors.ts";
import { bucketExists } from "../aws/lookups.ts";
import type { Logger } from "../logger.ts";
import { handleCors, withoutCorsHeaders } from "./cors.ts";
import { JournalWriteError } from "./event-journal.ts";
import {
  entityTooLarge,
  escapeXml,
  isLargePut,
  MAX_OBJECT_BYTES,
  postLarge,
  putLarge,
  type UploadHooks,
} from "./large-put.ts";
import { NotificationConfigError, type NotificationHub } from "./notifications.ts";
import { checkPostPolicy, checkPresignedExpiry, isBrowserUpload, type PolicyVerifier } from "./post-policy.ts";
import { objectResponseHeaders } from "./response-headers.ts";
import { S3RequestError } from "./s3-request-error.ts";
import { handleSqsQuery, isSqsQueryRequest } from "./sqs-query.ts";

export interface EdgeBackends {
  /** fauxqs: S3, SQS, SNS. */
  fauxqsPort: number;
  /** An S3 client talking to fauxqs directly, for what the edge stores itself. */
  s3: S3Client;
  /** dynalite: DynamoDB. */
  dynamoPort: number;
  notifications: NotificationHub;
  logger: Logger;
  /** Origins whose pages may call the stack (the gallery's, CORS_ALLOWED_ORIGINS); see handleCors. */
  allowedOrigins: readonly string[];
  /** The secret presigned POST policies must be signed with (see checkPostPolicy). */
  policy: PolicyVerifier;
}

const HEALTH_BODY = JSON.stringify({
  services: { s3: "running", sqs: "running", sns: "running", dynamodb: "running" },
  edition: "embedded",
});

export interface EdgeServer extends http.Server {
  /**
   * Graceful stop, first step: stop accepting connections, let the S3 writes in flight finish
   * (at most `graceMs`), then cut what is left (long polls). Resolves once the server is closed.
   */
  stopAccepting(graceMs: number): Promise<void>;
}

/**
 * One endpoint in front of both emulators, like LocalStack's edge port: DynamoDB requests
 * (JSON protocol, X-Amz-Target: DynamoDB_20120810.*) go to dynalite, everything else to
 * fauxqs. The edge adds what neither emulator has: CORS for the allowed origins (browser uploads),
 * presigned POST policy checks and bucket notification configurations. An S3 write's 2xx is
 * relayed only once its event is recorded.
 */
export function createEdgeServer(backends: EdgeBackends): EdgeServer {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const allowedOrigins = new Set(backends.allowedOrigins);
  const writesInFlight = new Set<Promise<void>>();

  const server = http.createServer((req, res) => {
    const done = handle(req, res).catch((error: unknown) => answerError(req, res, error));
    if (isS3Write(req)) {
      writesInFlight.add(done);
      void done.finally(() => writesInFlight.delete(done));
    }
  }) as EdgeServer;
  // Long polls hold requests for 20 s; keep idle sockets open longer than the SDK's.
  server.keepAliveTimeout = 65_000;

  server.stopAccepting = async (graceMs) => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const grace = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.allSettled([...writesInFlight]), grace]);
    server.closeAllConnections();
    await closed;
    agent.destroy();
  };

  /**
   * Every request gets an answer: S3's error shape if nothing was sent yet, a cut connection
   * if the answer had begun. (Not `req.destroyed`: in Node 24 that is true once the body was read.)
   */
  function answerError(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (res.writableEnded || res.destroyed) return; // answered, or the client went away
    if (error instanceof S3RequestError) {
      if (!res.headersSent) sendS3Error(res, error.status, error.code, error.message, error.extra);
      else res.destroy();
      return;
    }
    backends.logger.error("edge request failed", { method: req.method, url: req.url, error });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message =
      error instanceof JournalWriteError
        ? `The request may have been applied, but its event notification could not be recorded: ${error.message}. Retry it.`
        : "We encountered an internal error. Please try again.";
    sendS3Error(res, 500, "InternalError", message);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (handleCors(req, res, allowedOrigins)) return;
    const url = new URL(req.url ?? "/", "http://edge");

    if (url.pathname === "/_localstack/health" || url.pathname === "/_embedded/health") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(HEALTH_BODY);
      return;
    }
    // A presigned URL past its X-Amz-Expires is refused, as on S3.
    checkPresignedExpiry(url);
    const target = req.headers["x-amz-target"];
    if (typeof target === "string" && target.startsWith("DynamoDB_")) {
      await forward(req, res, backends.dynamoPort);
      return;
    }
    // CloudWatch, Logs, Lambda, IAM...: say clearly that they are not here, rather than
    // letting fauxqs misread the request as an S3 call. SigV4 names the service it signed for.
    const service = signedService(req.headers.authorization, url);
    if (service && !EMULATED_SERVICES.has(service)) {
      res.writeHead(501, { "content-type": "application/x-amz-json-1.0" });
      res.end(
        JSON.stringify({
          __type: "NotImplemented",
          message: `${service} is not part of the embedded stack (S3, SQS, SNS, DynamoDB). Use LocalStack or AWS for it.`,
        }),
      );
      return;
    }
    // Older SDKs and CLIs speak SQS's query protocol; fauxqs only its JSON protocol.
    if (isSqsQueryRequest(req, url, service))
      return handleSqsQuery(req, res, url, { port: backends.fauxqsPort, agent });
    const bucket = bucketOf(url);
    if (bucket && url.searchParams.has("notification")) {
      await handleNotificationConfig(req, res, bucket);
      return;
    }
    const key = bucket && objectKeyOf(url);
    if (bucket && key && url.searchParams.has("tagging")) {
      await handleObjectTagging(req, res, bucket, key);
      return;
    }
    if (!isS3Write(req)) {
      await forward(req, res, backends.fauxqsPort);
      return;
    }
    rejectTooLarge(req);
    const mark = backends.notifications.mark();
    const hooks: UploadHooks = {
      announce: (bucket, key, eventName) => backends.notifications.expectEvent(bucket, key, eventName),
      confirm: () => backends.notifications.commit(mark),
    };
    if (isLargePut(req, url)) {
      await putLarge(req, res, url, backends.s3, hooks);
      return;
    }
    if (isBrowserUpload(req, url)) {
      await postLarge(req, res, url, backends.s3, hooks, (fields) =>
        checkPostPolicy(fields, bucket ?? "", backends.policy),
      );
      return;
    }
    const status = await forward(req, res, backends.fauxqsPort, (incoming) => confirmWrite(incoming, mark));
    if (req.method === "DELETE" && bucket && url.pathname === `/${bucket}` && status === 204) {
      backends.notifications.forgetBucket(bucket);
    }
  }

  /**
   * Object tagging, which fauxqs lacks (it would answer GetObjectTagging with the object's
   * bytes). The AWS CLI reads an object's tags before a multipart copy (`aws s3 mv`/`cp` of an
   * object over 8 MB), so GET answers an empty TagSet, as S3 does for an untagged object; tags
   * are not stored, so PUT and DELETE say so rather than pretend.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectTagging.html
   */
  async function handleObjectTagging(req: IncomingMessage, res: ServerResponse, bucket: string, key: string) {
    if (req.method !== "GET") {
      req.resume();
      sendS3Error(res, 501, "NotImplemented", "The embedded stack does not store object tags.");
      return;
    }
    try {
      await backends.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      sendS3Error(res, 404, "NoSuchKey", "The specified key does not exist.");
      return;
    }
    res.writeHead(200, { "content-type": "application/xml" });
    res.end(
      '<?xml version="1.0" encoding="UTF-8"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet/></Tagging>',
    );
  }

  async function handleNotificationConfig(req: IncomingMessage, res: ServerResponse, bucket: string) {
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(backends.notifications.getXml(bucket));
      return;
    }
    if (req.method !== "PUT") {
      sendS3Error(res, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
      return;
    }
    const body = await readBody(req);
    // The bucket must exist, as on S3: ask fauxqs.
    if (!(await bucketExists(backends.s3, bucket))) {
      sendS3Error(res, 404, "NoSuchBucket", "The specified bucket does not exist");
      return;
    }
    try {
      backends.notifications.put(bucket, body.toString("utf8"));
    } catch (error) {
      if (!(error instanceof NotificationConfigError)) throw error;
      sendS3Error(res, 400, "InvalidArgument", error.message);
      return;
    }
    res.writeHead(200);
    res.end();
  }

  /**
   * Before fauxqs's answer to an S3 write is relayed: a 2xx waits until the events it caused
   * are durably recorded (the journal's commit), and becomes a 500 if they cannot be; a 5xx
   * fauxqs wrote as JSON (e.g. its SQLite store is full) becomes S3's XML InternalError.
   * Returns the answer to send instead of fauxqs's, if any.
   */
  async function confirmWrite(incoming: IncomingMessage, mark: number): Promise<S3RequestError | undefined> {
    const status = incoming.statusCode ?? 502;
    if (status >= 200 && status < 300) {
      await backends.notifications.commit(mark);
      return undefined;
    }
    if (status >= 500 && !String(incoming.headers["content-type"] ?? "").includes("xml")) {
      const body = (await readBody(incoming)).toString("utf8").slice(0, 500);
      backends.logger.error("S3 store failed", { status, body });
      return new S3RequestError(500, "InternalError", `The object store failed: ${storeFailure(body)}`);
    }
    return undefined;
  }

  async function forward(
    req: IncomingMessage,
    res: ServerResponse,
    port: number,
    beforeRelay?: (incoming: IncomingMessage) => Promise<S3RequestError | undefined>,
  ): Promise<number> {
    const upstream = http.request({
      host: "127.0.0.1",
      port,
      method: req.method,
      path: req.url,
      // The Host header stays as the client sent it: fauxqs builds queue URLs from it.
      headers: forwardedHeaders(req, port === backends.fauxqsPort),
      agent,
    });
    // `on`, not `once`: a second socket error (EPIPE after an early answer) must not go
    // unhandled and take the whole stack down.
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      upstream.on("response", resolve);
      upstream.on("error", reject);
    });
    // The upstream may answer before it has read the whole body (an error): don't wait for
    // the body to be sent before relaying the answer.
    const sent = pipeline(req, upstream).catch(() => undefined);
    const incoming = await response;
    const instead = await beforeRelay?.(incoming).catch((error: unknown) => {
      incoming.resume();
      throw error;
    });
    if (instead) {
      incoming.resume();
      await sent;
      throw instead;
    }
    // dynalite answers any Origin with `Access-Control-Allow-Origin: *`: only the edge's CORS counts.
    const upstreamHeaders = withoutCorsHeaders(incoming.headers);
    const headers =
      port === backends.fauxqsPort
        ? objectResponseHeaders(
            req.method,
            new URL(req.url ?? "/", "http://edge"),
            incoming.statusCode ?? 502,
            upstreamHeaders,
          )
        : upstreamHeaders;
    res.writeHead(incoming.statusCode ?? 502, headers);
    await pipeline(incoming, res);
    await sent;
    return incoming.statusCode ?? 502;
  }

  return server;
}

const EMULATED_SERVICES = new Set(["s3", "sqs", "sns", "dynamodb"]);

/**
 * An S3 request that may create or remove objects, and so cause events: PUT, POST or DELETE
 * on a bucket path, signed for S3 or unsigned (a presigned POST carries its signature in the
 * form). SQS/SNS/DynamoDB calls are signed for their own service or name an X-Amz-Target.
 */
function isS3Write(req: IncomingMessage): boolean {
  if (req.method !== "PUT" && req.method !== "POST" && req.method !== "DELETE") return false;
  if (req.headers["x-amz-target"]) return false;
  const url = new URL(req.url ?? "/", "http://edge");
  const service = signedService(req.headers.authorization, url);
  return (service === undefined || service === "s3") && bucketOf(url) !== undefined;
}

/**
 * S3 refuses a body over its limit before reading it (EntityTooLarge, status 400); the
 * embedded stack's limit is MAX_OBJECT_BYTES, what its store can hold.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 */
function rejectTooLarge(req: IncomingMessage): void {
  const declared = Number(req.headers["x-amz-decoded-content-length"] ?? req.headers["content-length"] ?? 0);
  if (declared > MAX_OBJECT_BYTES) throw entityTooLarge(declared);
}

/** fauxqs's JSON error body, reduced to its message (e.g. "database or disk is full"). */
function storeFailure(body: string): string {
  try {
    return String((JSON.parse(body) as { message?: unknown }).message ?? body);
  } catch {
    return body || "no details";
  }
}

/** The service in a SigV4 credential scope: AKID/date/region/SERVICE/aws4_request. */
function signedService(authorization: string | undefined, url: URL): string | undefined {
  const credential = authorization?.match(/Credential=([^,]+)/)?.[1] ?? url.searchParams.get("X-Amz-Credential");
  return credential?.split("/")[3];
}

/**
 * Hop-by-hop headers stay at the edge. `Expect: 100-continue` in particular: the edge has
 * already accepted the body, and a second handshake upstream can stall the upload.
 *
 * An object body (PutObject, UploadPart, CopyObject) sent to fauxqs always carries a
 * Content-Type: fauxqs's HTTP server (Fastify) hands its S3 handlers no body at all for a PUT
 * with neither Content-Type nor a non-empty body, and they then fail with a 500 (TypeError on
 * `Buffer.from(undefined)`). That is exactly a folder marker as the AWS CLI sends it
 * (`s3api put-object --key album/` with no --body: `Content-Length: 0`, no Content-Type).
 * `application/octet-stream` is what fauxqs stores for a missing Content-Type anyway, so the
 * stored object is the same; S3 itself accepts empty bodies without a Content-Type.
 */
function forwardedHeaders(req: IncomingMessage, toObjectStore: boolean): http.OutgoingHttpHeaders {
  const { expect: _expect, connection: _connection, "keep-alive": _keepAlive, ...rest } = req.headers;
  if (toObjectStore && rest["content-type"] === undefined && isObjectBodyPut(req)) {
    return { ...rest, "content-type": "application/octet-stream" };
  }
  return rest;
}

/**
 * A PUT whose body is an object's bytes: PutObject or CopyObject (bucket/key, no subresource
 * but the SDK's `x-id` and a presigned URL's `X-Amz-*`) or UploadPart (`partNumber` and `uploadId`). Not bucket-level PUTs nor
 * `?tagging`/`?acl`…, whose bodies are XML documents.
 */
function isObjectBodyPut(req: IncomingMessage): boolean {
  if (req.method !== "PUT") return false;
  const url = new URL(req.url ?? "/", "http://edge");
  if (url.pathname.split("/").filter(Boolean).length < 2) return false;
  // A presigned URL's own X-Amz-* parameters are no subresource.
  const names = [...url.searchParams.keys()].filter((name) => name !== "x-id" && !/^x-amz-/i.test(name));
  if (names.length === 0) return true;
  return names.every((name) => name === "partNumber" || name === "uploadId") && names.length === 2;
}

/** The object key of a path-style S3 URL (`/bucket/a/b.jpg` → `a/b.jpg`), or "" for the bucket itself. */
function objectKeyOf(url: URL): string {
  return decodeURIComponent(url.pathname.split("/").slice(2).join("/"));
}

/** Path-style S3 only (forcePathStyle): the first path segment is the bucket. */
function bucketOf(url: URL): string | undefined {
  const segment = url.pathname.split("/")[1];
  return segment ? decodeURIComponent(segment) : undefined;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendS3Error(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): void {
  const fields = Object.entries(extra)
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join("");
  res.writeHead(status, { "content-type": "application/xml" });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${fields}</Error>`,
  );
}

export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
