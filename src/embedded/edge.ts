import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "../logger.ts";
import { bucketExists } from "../provision/resources.ts";
import { escapeXml, isLargePost, isLargePut, postLarge, putLarge } from "./large-put.ts";
import { NotificationConfigError, type NotificationHub } from "./notifications.ts";
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
}

const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, PUT, POST, DELETE, HEAD",
  "access-control-expose-headers": "ETag, x-amz-request-id, x-amz-version-id, Location",
  "access-control-max-age": "3000",
};

const HEALTH_BODY = JSON.stringify({
  services: { s3: "running", sqs: "running", sns: "running", dynamodb: "running" },
  edition: "embedded",
});

/**
 * One endpoint in front of both emulators, like LocalStack's edge port: DynamoDB requests
 * (JSON protocol, X-Amz-Target: DynamoDB_20120810.*) go to dynalite, everything else to
 * fauxqs. The edge adds what neither emulator has: CORS for browser uploads and bucket
 * notification configurations.
 */
export function createEdgeServer(backends: EdgeBackends): http.Server {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // The client went away (an aborted long poll): nothing to answer, nothing wrong.
      if (req.destroyed || res.destroyed) return;
      backends.logger.error("edge request failed", { method: req.method, url: req.url, error });
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end("embedded stack: backend request failed");
    });
  });
  // Long polls hold requests for 20 s; keep idle sockets open longer than the SDK's.
  server.keepAliveTimeout = 65_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(CORS_HEADERS)) res.setHeader(name, value);
    const url = new URL(req.url ?? "/", "http://edge");

    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "*",
      });
      res.end();
      return;
    }
    if (url.pathname === "/_localstack/health" || url.pathname === "/_embedded/health") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(HEALTH_BODY);
      return;
    }
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
    const announce = (bucket: string, key: string, eventName: string) =>
      backends.notifications.expectEvent(bucket, key, eventName);
    if (isLargePut(req, url)) {
      await putLarge(req, res, url, backends.s3, announce);
      return;
    }
    if (isLargePost(req, url)) {
      await postLarge(req, res, url, backends.s3, announce);
      return;
    }
    const status = await forward(req, res, backends.fauxqsPort);
    if (req.method === "DELETE" && bucket && url.pathname === `/${bucket}` && status === 204) {
      backends.notifications.forgetBucket(bucket);
    }
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

  async function forward(req: IncomingMessage, res: ServerResponse, port: number): Promise<number> {
    const upstream = http.request({
      host: "127.0.0.1",
      port,
      method: req.method,
      path: req.url,
      // The Host header stays as the client sent it: fauxqs builds queue URLs from it.
      headers: forwardedHeaders(req.headers),
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
    res.writeHead(incoming.statusCode ?? 502, incoming.headers);
    await pipeline(incoming, res);
    await sent;
    return incoming.statusCode ?? 502;
  }

  return server;
}

const EMULATED_SERVICES = new Set(["s3", "sqs", "sns", "dynamodb"]);

/** The service in a SigV4 credential scope: AKID/date/region/SERVICE/aws4_request. */
function signedService(authorization: string | undefined, url: URL): string | undefined {
  const credential = authorization?.match(/Credential=([^,]+)/)?.[1] ?? url.searchParams.get("X-Amz-Credential");
  return credential?.split("/")[3];
}

/**
 * Hop-by-hop headers stay at the edge. `Expect: 100-continue` in particular: the edge has
 * already accepted the body, and a second handshake upstream can stall the upload.
 */
function forwardedHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const { expect: _expect, connection: _connection, "keep-alive": _keepAlive, ...rest } = headers;
  return rest;
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

function sendS3Error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "content-type": "application/xml" });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`,
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
