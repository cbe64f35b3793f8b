import { readFile } from "node:fs/promises";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Clients } from "../src/aws/clients.ts";
import type { Config } from "../src/config.ts";
import { errorMessage } from "../src/errors.ts";
import type { Logger } from "../src/logger.ts";
import { LISTED_STATUSES, type ListedStatus } from "../src/store/metadata.ts";
import {
  BadCursorError,
  findImage,
  InvalidQueryError,
  listImages,
  MAX_PAGE_SIZE,
  SORT_ORDERS,
  type SortOrder,
} from "../src/store/query.ts";
import { type ChangeEvent, createChangeFeed } from "./changes.ts";
import { createPresigner, presignUpload, s3Origins, toImageView, UploadRequestError } from "./images.ts";
import { createStatsSource } from "./stats.ts";

export interface GalleryOptions {
  config: Config;
  clients: Clients;
  logger: Logger;
  /** How often the change feed polls while a page is open. */
  pollMs?: number;
}

export interface Gallery {
  /** Resolves with the URL it listens on (port 0 picks a free port). */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

export const DEFAULT_PAGE_SIZE = 24;
const MAX_BODY_BYTES = 16 * 1024;
const STATUSES: readonly string[] = LISTED_STATUSES;

const SCRIPT = "text/javascript; charset=utf-8";
/**
 * Everything the gallery serves from `public/`, by URL path. An exact allowlist, never a path
 * read from the request: the page's entry module `app.js` and the modules it imports (`js/`).
 */
const STATIC_FILES = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: SCRIPT },
  "/js/cards.js": { file: "js/cards.js", type: SCRIPT },
  "/js/format.js": { file: "js/format.js", type: SCRIPT },
  "/js/helpers.js": { file: "js/helpers.js", type: SCRIPT },
  "/js/list.js": { file: "js/list.js", type: SCRIPT },
  "/js/live.js": { file: "js/live.js", type: SCRIPT },
  "/js/preview.js": { file: "js/preview.js", type: SCRIPT },
  "/js/state.js": { file: "js/state.js", type: SCRIPT },
  "/js/uploads.js": { file: "js/uploads.js", type: SCRIPT },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
  "/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
} as const;

/** A request the API refuses, with the HTTP status and a stable code for the JSON body. */
class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The gallery: static files plus a small JSON API over the shared queries. Images reach the
 * browser as presigned S3 URLs and uploads go straight to S3, so no image byte passes here.
 */
export async function createGalleryServer({ config, clients, logger, pollMs }: GalleryOptions): Promise<Gallery> {
  const presigner = createPresigner(config, clients);
  const statics = new Map(
    await Promise.all(
      Object.entries(STATIC_FILES).map(
        async ([path, { file, type }]) =>
          [path, { body: await readFile(new URL(`./public/${file}`, import.meta.url)), type }] as const,
      ),
    ),
  );
  const origins = await s3Origins(config, presigner);
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // blob: the page's own preview of a file while it uploads.
    `img-src 'self' data: blob: ${unique(origins.thumbnails, origins.uploads)}`,
    // The upload's XHR POST goes to S3 itself.
    `connect-src 'self' ${origins.uploads}`,
    "font-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  const securityHeaders = {
    "content-security-policy": csp,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
  };

  const stats = createStatsSource(config, clients);
  const feed = createChangeFeed({ config, clients, logger, stats, ...(pollMs && { pollMs }) });
  const streams = new Set<ServerResponse>();

  const allowedHosts = new Set(config.web.allowedHosts);
  const server = http.createServer((req, res) => {
    for (const [name, value] of Object.entries(securityHeaders)) res.setHeader(name, value);
    // DNS rebinding: a page on attacker.example whose name resolves to 127.0.0.1 is same-origin
    // with whatever answers there. Answer only the names the gallery is reached by.
    if (!allowedHosts.has(hostName(req.headers.host))) {
      return sendJson(res, 421, {
        error: {
          code: "MISDIRECTED_REQUEST",
          message: "This gallery answers only on localhost, 127.0.0.1, [::1] and WEB_HOST.",
        },
      });
    }
    route(req, res).catch((error: unknown) => {
      if (res.destroyed) return;
      if (error instanceof ApiError)
        return sendJson(res, error.status, { error: { code: error.code, message: error.message } });
      if (error instanceof BadCursorError) {
        return sendJson(res, 400, { error: { code: "BAD_CURSOR", message: error.message } });
      }
      if (error instanceof InvalidQueryError || error instanceof UploadRequestError) {
        return sendJson(res, 400, { error: { code: "BAD_REQUEST", message: error.message } });
      }
      logger.error("gallery request failed", { method: req.method, url: req.url, error });
      sendJson(res, 502, {
        error: { code: "BACKEND_ERROR", message: `The AWS endpoint failed: ${errorMessage(error)}` },
      });
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://gallery");
    const path = url.pathname;
    const method = req.method ?? "GET";

    // Only the exact path: the URL parser resolves dot segments (`/js/%2e%2e/app.js` is `/app.js`),
    // which a browser never sends; such a request gets 404, not some other allowlisted file.
    const file = req.url?.split("?")[0] === path ? statics.get(path) : undefined;
    if (file) {
      allow(method, ["GET", "HEAD"]);
      res.writeHead(200, {
        "content-type": file.type,
        "cache-control": "no-cache",
        "content-length": file.body.length,
      });
      res.end(method === "HEAD" ? undefined : file.body);
      return;
    }
    if (path === "/api/images") {
      allow(method, ["GET"]);
      const query = url.searchParams;
      const status = query.get("status") || undefined;
      if (status && !STATUSES.includes(status)) {
        throw new InvalidQueryError(`status must be one of ${STATUSES.join(", ")}, not "${status}"`);
      }
      const sort = query.get("sort") || undefined;
      if (sort && !(SORT_ORDERS as readonly string[]).includes(sort)) {
        throw new InvalidQueryError(`sort must be one of ${SORT_ORDERS.join(", ")}, not "${sort}"`);
      }
      const limit = query.get("limit");
      if (limit !== null && !/^\d+$/.test(limit)) {
        throw new InvalidQueryError(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}, not "${limit}"`);
      }
      const page = await listImages(config, clients, {
        limit: limit === null ? DEFAULT_PAGE_SIZE : Number(limit),
        ...optional("since", query.get("since")),
        ...optional("until", query.get("until")),
        ...optional("cursor", query.get("cursor")),
        ...(status && { status: status as ListedStatus }),
        ...(sort && { sort: sort as SortOrder }),
      });
      const items = await Promise.all(page.items.map((item) => toImageView(config, presigner, item)));
      return sendJson(res, 200, { items, ...(page.nextCursor && { nextCursor: page.nextCursor }) });
    }
    if (path.startsWith("/api/images/")) {
      allow(method, ["GET"]);
      let id: string;
      try {
        id = decodeURIComponent(path.slice("/api/images/".length));
      } catch {
        throw new InvalidQueryError("the image id is not valid URL encoding");
      }
      if (id === "" || id.length > 1024) throw new InvalidQueryError("an image id or key is required");
      const item = await findImage(config, clients, id);
      if (!item) throw new ApiError(404, "NOT_FOUND", `No image ${JSON.stringify(id)}`);
      return sendJson(res, 200, await toImageView(config, presigner, item, { original: true }));
    }
    if (path.startsWith("/api/uploads/")) {
      // An upload of this page, by imageId: PENDING until the worker has recorded it. Unlike
      // /api/images/{id}, "not yet" is an answer here, not a 404 (which browsers log as an error).
      allow(method, ["GET"]);
      const imageId = path.slice("/api/uploads/".length);
      if (!/^[0-9a-f]{16,64}$/.test(imageId)) throw new InvalidQueryError("an imageId (hex) is required");
      const item = await findImage(config, clients, imageId);
      if (!item) return sendJson(res, 200, { imageId, status: "PENDING" });
      return sendJson(res, 200, await toImageView(config, presigner, item, { original: true }));
    }
    if (path === "/api/uploads") {
      allow(method, ["POST"]);
      const ticket = await presignUpload(config, presigner, await readJson(req));
      return sendJson(res, 201, ticket);
    }
    if (path === "/api/stats") {
      allow(method, ["GET"]);
      return sendJson(res, 200, await stats());
    }
    if (path === "/api/info") {
      allow(method, ["GET"]);
      return sendJson(res, 200, {
        maxBytes: config.limits.maxBytes,
        thumbnailSizes: config.thumbnails.sizes,
        pageSize: DEFAULT_PAGE_SIZE,
        target: config.target.kind,
      });
    }
    if (path === "/api/events") {
      allow(method, ["GET"]);
      return openStream(req, res);
    }
    throw new ApiError(404, "NOT_FOUND", `Nothing at ${path}`);
  }

  /**
   * Server-sent events: `image` when an image appears or changes, `removed` ({imageId}) when one
   * was deleted, `stats` when counts or queues move.
   */
  function openStream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    res.write("retry: 3000\n\n");
    const send = async (event: ChangeEvent) => {
      const data =
        event.type === "image"
          ? await toImageView(config, presigner, event.item)
          : event.type === "removed"
            ? { imageId: event.imageId }
            : (event.stats as unknown);
      if (!res.destroyed) res.write(`event: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unsubscribe = feed.subscribe((event) => {
      send(event).catch((error: unknown) => logger.warn("event not sent", { reason: errorMessage(error) }));
    });
    // A comment every 15 s keeps proxies from closing an idle stream.
    const heartbeat = setInterval(() => res.write(": ping\n\n"), 15_000);
    streams.add(res);
    req.on("close", () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    });
  }

  function sendJson(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  }

  return {
    listen(port = config.web.port, host = config.web.host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address() as AddressInfo;
          const shown = address.address === "0.0.0.0" || address.address === "::" ? "localhost" : address.address;
          resolve(`http://${shown.includes(":") ? `[${shown}]` : shown}:${address.port}`);
        });
      });
    },
    async close() {
      feed.close();
      for (const res of streams) res.end();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The host name of a Host header, lowercase, without port or IPv6 brackets ("" if unusable). */
function hostName(host: string | undefined): string {
  if (!host) return "";
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[(.*)\]$/, "$1");
  } catch {
    return "";
  }
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) throw new ApiError(405, "METHOD_NOT_ALLOWED", `Use ${methods.join(" or ")}`);
}

function optional<K extends string>(name: K, value: string | null): Partial<Record<K, string>> {
  return value ? ({ [name]: value } as Record<K, string>) : {};
}

function unique(...values: string[]): string {
  return [...new Set(values)].join(" ");
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  // Only JSON: a cross-site HTML form cannot send it without a CORS preflight we never answer.
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
    throw new ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Send the request as application/json");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, "TOO_LARGE", `The request body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new ApiError(400, "BAD_REQUEST", "The request body is not valid JSON");
  }
}
