import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";

const ALLOWED_METHODS = "GET, PUT, POST, DELETE, HEAD";
const EXPOSED_HEADERS = "ETag, x-amz-request-id, x-amz-version-id, Location";

/**
 * CORS at the edge, as LocalStack's CorsEnforcer does it: a request whose `Origin` is not on the
 * allowlist is refused with 403 before it reaches an emulator, so a page on another origin can
 * neither read answers nor cause effects with "simple" requests that need no preflight (an HTML
 * form POST, a GET). Requests without `Origin` (SDKs, CLIs, `<img>` loads, navigation) pass
 * untouched, except an SQS `?Action=` GET a browser sent for another site's page (see
 * sentForAnotherSite). Allowed origins get `Access-Control-Allow-Origin: <that origin>`, never `*`.
 *
 * Returns true when the request was answered here (a preflight, or a refusal).
 * Source of the rules: the Fetch standard's CORS protocol (fetch.spec.whatwg.org/#http-cors-protocol).
 */
export function handleCors(req: IncomingMessage, res: ServerResponse, allowedOrigins: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) {
    if (!sentForAnotherSite(req)) return false;
    refuse(req, res);
    return true;
  }
  res.setHeader("vary", "Origin");
  if (!allowedOrigins.has(origin)) {
    refuse(req, res);
    return true;
  }
  res.setHeader("access-control-allow-origin", origin);
  res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
  if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
    res.writeHead(204, {
      "access-control-allow-methods": ALLOWED_METHODS,
      "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "",
      "access-control-max-age": "3000",
    });
    res.end();
    return true;
  }
  return false;
}

/**
 * A request a browser sent without `Origin` for a page of another origin, that would do more
 * than read: browsers leave `Origin` off GET and HEAD (`<img src>`, `fetch(…, {mode: "no-cors"})`),
 * and the SQS query protocol acts on a GET (`?Action=SendMessage`, `PurgeQueue`, `DeleteQueue`).
 * Browsers mark such requests with Fetch Metadata (`Sec-Fetch-Site: cross-site` or `same-site`;
 * ports do not count for "site", so every localhost page is same-site); SDKs and CLIs send no
 * `Sec-Fetch-*` and are not affected, nor are plain S3 reads such as the gallery's `<img>`s.
 * Source: the Fetch Metadata Request Headers spec (w3c.github.io/webappsec-fetch-metadata).
 */
function sentForAnotherSite(req: IncomingMessage): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site !== "cross-site" && site !== "same-site") return false;
  if (req.method !== "GET" && req.method !== "HEAD") return true;
  return new URL(req.url ?? "/", "http://edge").searchParams.has("Action");
}

function refuse(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(403, { "content-type": "application/xml" });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessForbidden</Code><Message>CORSResponse: this origin is not allowed (set CORS_ALLOWED_ORIGINS to allow it)</Message></Error>`,
  );
  // The body may still be arriving: drop it rather than parse it.
  req.resume();
}

/** An emulator's answer without its own `Access-Control-*` headers (the edge sets those). */
export function withoutCorsHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith("access-control-")));
}
