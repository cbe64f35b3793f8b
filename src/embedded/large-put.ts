import type { IncomingMessage, ServerResponse } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

/**
 * fauxqs refuses request bodies over 11 MiB (its HTTP server's body limit), while S3 takes
 * up to 5 GB in one PutObject: a 16 MB panorama would fail on the embedded stack only. The
 * edge therefore stores such a PutObject in fauxqs as a multipart upload of 8 MiB parts.
 */
export const SINGLE_PUT_LIMIT = 10 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;

export function isLargePut(req: IncomingMessage, url: URL): boolean {
  if (req.method !== "PUT" || req.headers["x-amz-copy-source"]) return false;
  if (url.searchParams.has("uploadId") || url.searchParams.has("partNumber")) return false;
  if (url.pathname.split("/").filter(Boolean).length < 2) return false;
  const size = Number(req.headers["x-amz-decoded-content-length"] ?? req.headers["content-length"] ?? 0);
  return size > SINGLE_PUT_LIMIT;
}

export async function putLarge(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  s3: S3Client,
  /** Called just before completing, so the notification says Put, as S3's would. */
  beforeComplete: (bucket: string, key: string) => void,
): Promise<void> {
  const [, bucket = "", ...rest] = url.pathname.split("/");
  const Bucket = decodeURIComponent(bucket);
  const Key = decodeURIComponent(rest.join("/"));
  const metadata = Object.fromEntries(
    Object.entries(req.headers)
      .filter(([name]) => name.startsWith("x-amz-meta-"))
      .map(([name, value]) => [name.slice("x-amz-meta-".length), String(value)]),
  );
  const header = (name: string) => (req.headers[name] as string | undefined) || undefined;
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({
      Bucket,
      Key,
      ContentType: header("content-type"),
      CacheControl: header("cache-control"),
      ContentDisposition: header("content-disposition"),
      Metadata: metadata,
    }),
  );
  try {
    const body = /aws-chunked/.test(String(req.headers["content-encoding"] ?? ""))
      ? req.pipe(new AwsChunkedDecoder())
      : req;
    const parts: { ETag: string; PartNumber: number }[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
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
      if (pendingBytes >= PART_SIZE) await flush();
    }
    if (pendingBytes > 0 || parts.length === 0) await flush();
    beforeComplete(Bucket, Key);
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
    );
    res.writeHead(200, { etag: done.ETag ?? "", "content-length": "0" });
    res.end();
  } catch (error) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
    throw error;
  }
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
