import type { IncomingHttpHeaders } from "node:http";

/**
 * GetObject's `response-*` query parameters: S3 answers a signed GET with these values in place
 * of the stored headers (GetObject API reference, "Overriding response header values through the
 * request"). fauxqs ignores them, so the edge applies them to its answer. The gallery relies on
 * them to serve an original as a download (`response-content-disposition=attachment`).
 */
const OVERRIDES = {
  "response-content-type": "content-type",
  "response-content-disposition": "content-disposition",
  "response-content-language": "content-language",
  "response-content-encoding": "content-encoding",
  "response-cache-control": "cache-control",
  "response-expires": "expires",
} as const;

/**
 * The headers of an S3 object GET/HEAD answer as the edge relays them: the request's overrides
 * applied, and `X-Content-Type-Options: nosniff` so that a browser never guesses a type (an
 * image served as image/jpeg is never sniffed into HTML), and `Content-Security-Policy: sandbox`:
 * an HTML or SVG object opened by its bare URL runs no script and gets an opaque origin, so it
 * cannot call the stack as its own origin (same-origin GETs carry no `Origin`). Images still
 * display (in `<img>` and in a tab). Other answers are returned unchanged.
 */
export function objectResponseHeaders(
  method: string | undefined,
  url: URL,
  status: number,
  headers: IncomingHttpHeaders,
): IncomingHttpHeaders {
  if ((method !== "GET" && method !== "HEAD") || url.pathname.split("/").filter(Boolean).length < 2) return headers;
  const result: IncomingHttpHeaders = {
    ...headers,
    "x-content-type-options": "nosniff",
    "content-security-policy": "sandbox",
  };
  if (status < 200 || status >= 300) return result;
  for (const [parameter, header] of Object.entries(OVERRIDES)) {
    const value = url.searchParams.get(parameter);
    // A header value cannot hold line breaks; S3 would refuse the request, the edge drops the override.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
    if (value !== null && !/[\u0000-\u001f\u007f]/.test(value)) result[header] = value;
  }
  return result;
}
