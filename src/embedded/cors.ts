import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";

const ALLOWED_METHODS = "GET, PUT, POST, DELETE, HEAD";
const EXPOSED_HEADERS = "ETag, x-amz-request-id, x-amz-version-id, Location";

/**
 * CORS at the edge, as LocalStack's CorsEnforcer does it: a request whose `Origin` is not on the
 * allowlist is refused with 403 before it reaches an emulator, so a page on another origin can
 * neither read answers nor cause effects with "simple" requests that need no preflight (an HTML
 * form POST, a GET). Requests without `Origin` (SDKs, CLIs, `<img>` loads, navigation) pass
 * untouched. Allowed origins get `Access-Control-Allow-Origin: <that origin>`, never `*`.
 *
 * Returns true when the request was answered here (a preflight, or a refusal).
 * Source of the rules: the Fetch standard's CORS protocol (fetch.spec.whatwg.org/#http-cors-protocol).
 */
export function handleCors(req: IncomingMessage, res: ServerResponse, allowedOrigins: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  res.setHeader("vary", "Origin");
  if (!allowedOrigins.has(origin)) {
    res.writeHead(403, { "content-type": "application/xml" });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessForbidden</Code><Message>CORSResponse: this origin is not allowed (set CORS_ALLOWED_ORIGINS to allow it)</Message></Error>`,
    );
    // The body may still be arriving: drop it rather than parse it.
    req.resume();
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

/** An emulator's answer without its own `Access-Control-*` headers (the edge sets those). */
export function withoutCorsHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith("access-control-")));
}
