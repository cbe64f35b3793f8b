import type { IncomingMessage, ServerResponse } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import busboy from "busboy";
import { type LengthRange, lengthLimit } from "./post-policy.ts";
import { S3RequestError } from "./s3-request-error.ts";

/**
 * fauxqs refuses request bodies over 11 MiB (its HTTP server's body limit), while S3 takes
 * up to 5 GB in one PutObject or POST: a 16 MB panorama would fail on the embedded stack only.
 * The edge therefore stores such an upload in fauxqs as a multipart upload of 8 MiB parts.
 */
export const SINGLE_PUT_LIMIT = 10 * 1024 * 1024;
/**
 * The largest object the embedded stack stores (S3: 5 GiB in one PutObject). fauxqs keeps a
 * multipart upload's parts in memory and stores the object as one SQLite BLOB (at most 10⁹
 * bytes by default), so bigger bodies are refused with EntityTooLarge before they are read.
 */
export const MAX_OBJECT_BYTES = 512 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;
/** S3 substitutes the uploaded file's name for this in a POST's key field. */
const FILENAME_PLACEHOLDER = ["$", "{filename}"].join("");

/** https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html: status 400. */
export function entityTooLarge(size: number): S3RequestError {
  return new S3RequestError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", {
    ProposedSize: String(size),
    MaxSizeAllowed: String(MAX_OBJECT_BYTES),
  });
}

/**
 * A PutObject fauxqs cannot take in one request: over its body limit, of unknown length
 * (chunked), or sent as a form (`application/x-www-form-urlencoded`, curl's default for
 * `--data`): fauxqs's HTTP server parses those for SNS, so its S3 handler would get a parsed
 * object instead of the bytes (a 500). Stored as a multipart upload instead, which keeps the
 * Content-Type. (`application/x-amz-json-1.0` objects still fail: fauxqs parses even the empty
 * body of CreateMultipartUpload as JSON.)
 */
export function isLargePut(req: IncomingMessage, url: URL): boolean {
  if (req.method !== "PUT" || req.headers["x-amz-copy-source"]) return false;
  // Parts, tagging, ACLs…: not an object body (the SDK's own `x-id=PutObject` is fine).
  if (SUBRESOURCES.some((name) => url.searchParams.has(name))) return false;
  if (url.pathname.split("/").filter(Boolean).length < 2) return false;
  if (STORE_PARSED_TYPES.test(String(req.headers["content-type"] ?? ""))) return true;
  const declared = req.headers["x-amz-decoded-content-length"] ?? req.headers["content-length"];
  if (declared === undefined) return req.headers["transfer-encoding"] !== undefined;
  return Number(declared) > SINGLE_PUT_LIMIT;
}

/** A form, which fauxqs's server parses itself (fauxqs/dist/app.js addContentTypeParser). */
const STORE_PARSED_TYPES = /^\s*application\/x-www-form-urlencoded\s*(;|$)/i;

const SUBRESOURCES = ["uploadId", "partNumber", "tagging", "acl", "retention", "legal-hold", "renameObject"];

/** What the edge does around an upload it stores itself. */
export interface UploadHooks {
  /** Called just before the upload completes, so the notification names the event S3's would. */
  announce(bucket: string, key: string, eventName: string): void;
  /** Called once stored, before the answer: resolves when the upload's event is recorded durably. */
  confirm(): Promise<void>;
}

export async function putLarge(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  s3: S3Client,
  hooks: UploadHooks,
): Promise<void> {
  const [, bucket = "", ...rest] = url.pathname.split("/");
  const header = (name: string) => (req.headers[name] as string | undefined) || undefined;
  const body = /aws-chunked/.test(String(req.headers["content-encoding"] ?? ""))
    ? req.pipe(new AwsChunkedDecoder())
    : req;
  const target = {
    Bucket: decodeURIComponent(bucket),
    Key: decodeURIComponent(rest.join("/")),
    ContentType: header("content-type"),
    CacheControl: header("cache-control"),
    ContentDisposition: header("content-disposition"),
    Metadata: userMetadata(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
  };
  const eTag = await storeMultipart(s3, target, body, () =>
    hooks.announce(target.Bucket, target.Key, "ObjectCreated:Put"),
  );
  await hooks.confirm();
  res.writeHead(200, { etag: eTag, "content-length": "0" });
  res.end();
}

/**
 * A browser-based upload (POST Object, any size): the form is parsed once, the fields before the
 * file are checked by `checkForm` (the POST policy) before the file is read, and the file is
 * streamed into the store within the size range it returns; nothing is stored if either fails.
 */
export async function postLarge(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  s3: S3Client,
  hooks: UploadHooks,
  checkForm: (fields: ReadonlyMap<string, string>) => Promise<LengthRange>,
): Promise<void> {
  const Bucket = decodeURIComponent(url.pathname.split("/")[1] ?? "");
  const fields = new Map<string, string>();
  const result = await new Promise<{ key: string; eTag: string }>((resolve, reject) => {
    const form = busboy({ headers: req.headers, limits: { files: 1 } });
    let gotFile = false;
    form.on("field", (name, value) => fields.set(name.toLowerCase(), value));
    form.on("file", (_name, stream, info) => {
      gotFile = true;
      // As on S3: the key may say ${filename}; fields after the file are ignored.
      const Key = (fields.get("key") ?? "").replace(FILENAME_PLACEHOLDER, info.filename ?? "");
      if (!Key) {
        stream.resume();
        reject(new S3RequestError(400, "InvalidArgument", "Bucket POST must contain a field named 'key'."));
        return;
      }
      const field = (name: string) => fields.get(name.toLowerCase()) || undefined;
      checkForm(fields)
        .then((range) => {
          const file = stream.pipe(lengthLimit(range));
          // Over the size: stop storing, but read the rest of the form so the answer gets through.
          file.on("error", () => {
            stream.unpipe(file);
            stream.resume();
          });
          return storeMultipart(
            s3,
            {
              Bucket,
              Key,
              ContentType: field("Content-Type"),
              CacheControl: field("Cache-Control"),
              ContentDisposition: field("Content-Disposition"),
              Metadata: userMetadata([...fields.entries()]),
            },
            file,
            () => hooks.announce(Bucket, Key, "ObjectCreated:Post"),
          );
        })
        .then(
          (eTag) => resolve({ key: Key, eTag }),
          (error: unknown) => {
            stream.resume();
            reject(error);
          },
        );
    });
    form.on("close", () => {
      if (!gotFile)
        reject(new S3RequestError(400, "InvalidArgument", "POST requires exactly one file upload per request."));
    });
    form.on("error", reject);
    req.pipe(form);
  });
  await hooks.confirm();
  const redirect = fields.get("success_action_redirect") ?? fields.get("redirect");
  if (redirect) {
    const location = new URL(redirect);
    location.searchParams.set("bucket", Bucket);
    location.searchParams.set("key", result.key);
    location.searchParams.set("etag", result.eTag);
    res.writeHead(303, { location: location.toString() });
    res.end();
    return;
  }
  const status = Number(fields.get("success_action_status") ?? 204);
  if (status === 201) {
    res.writeHead(201, { "content-type": "application/xml", etag: result.eTag });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><PostResponse><Bucket>${escapeXml(Bucket)}</Bucket><Key>${escapeXml(result.key)}</Key><ETag>${escapeXml(result.eTag)}</ETag></PostResponse>`,
    );
    return;
  }
  res.writeHead(status === 200 ? 200 : 204, { etag: result.eTag });
  res.end();
}

interface MultipartTarget {
  Bucket: string;
  Key: string;
  ContentType: string | undefined;
  CacheControl: string | undefined;
  ContentDisposition: string | undefined;
  Metadata: Record<string, string>;
}

/**
 * Streams a body into fauxqs as a multipart upload of 8 MiB parts, one part in memory at a
 * time; returns the ETag. Throws EntityTooLarge past MAX_OBJECT_BYTES (the upload is aborted).
 */
async function storeMultipart(
  s3: S3Client,
  target: MultipartTarget,
  body: AsyncIterable<unknown>,
  beforeComplete: () => void,
): Promise<string> {
  const { Bucket, Key } = target;
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand(target));
  try {
    const parts: { ETag: string; PartNumber: number }[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let total = 0;
    const flush = async () => {
      const PartNumber = parts.length + 1;
      const data = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      const { ETag = "" } = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: data }));
      parts.push({ ETag, PartNumber });
    };
    for await (const chunk of body) {
      pending.push(chunk as Buffer);
      pendingBytes += (chunk as Buffer).length;
      // A body of unknown length (chunked) is counted as it arrives.
      total += (chunk as Buffer).length;
      if (total > MAX_OBJECT_BYTES) throw entityTooLarge(total);
      if (pendingBytes >= PART_SIZE) await flush();
    }
    if (pendingBytes > 0 || parts.length === 0) await flush();
    beforeComplete();
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
    );
    return done.ETag ?? "";
  } catch (error) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
    throw error;
  }
}

function userMetadata(entries: [string, string][]): Record<string, string> {
  return Object.fromEntries(
    entries
      .filter(([name]) => name.toLowerCase().startsWith("x-amz-meta-"))
      .map(([name, value]) => [name.toLowerCase().slice("x-amz-meta-".length), value]),
  );
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Strips the SDK's aws-chunked framing ("<hex size>[;ext]\r\n<data>\r\n" … "0\r\n<trailers>")
 * so the parts carry the object's bytes.
 */
export class AwsChunkedDecoder extends Transform {
  private buffer = Buffer.alloc(0);
  private remaining = 0;
  private done = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (!this.done) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, this.buffer.length);
        if (take === 0) break;
        this.push(this.buffer.subarray(0, take));
        this.buffer = this.buffer.subarray(take);
        this.remaining -= take;
        if (this.remaining > 0) break;
        // Each chunk's data ends with CRLF.
        if (this.buffer.length < 2) {
          this.remaining = -2;
          break;
        }
        this.buffer = this.buffer.subarray(2);
        continue;
      }
      if (this.remaining === -2) {
        if (this.buffer.length < 2) break;
        this.buffer = this.buffer.subarray(2);
        this.remaining = 0;
        continue;
      }
      const eol = this.buffer.indexOf("\r\n");
      if (eol < 0) break;
      const size = Number.parseInt(this.buffer.subarray(0, eol).toString("latin1").split(";")[0] ?? "", 16);
      this.buffer = this.buffer.subarray(eol + 2);
      if (!Number.isFinite(size)) {
        callback(new Error("malformed aws-chunked body"));
        return;
      }
      if (size === 0) this.done = true;
      else this.remaining = size;
    }
    callback();
  }
}
