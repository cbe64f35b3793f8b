import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { SignatureV4 } from "@smithy/signature-v4";
import { S3RequestError } from "./s3-request-error.ts";

/**
 * A browser-based upload (S3's POST Object): multipart/form-data POSTed to a bucket, of any size.
 * The edge parses and checks every one itself (fauxqs checks no policy).
 */
export function isBrowserUpload(req: IncomingMessage, url: URL): boolean {
  return (
    req.method === "POST" &&
    url.pathname.split("/").filter(Boolean).length === 1 &&
    url.search === "" &&
    String(req.headers["content-type"] ?? "").startsWith("multipart/form-data")
  );
}

/** The size range a policy allows for the file, in bytes (`content-length-range`). */
export interface LengthRange {
  min: number;
  max: number;
}

/**
 * The secret the embedded stack verifies signatures with. The stack accepts any access key id
 * (like LocalStack), but a presigned POST must be signed with this secret: AWS_SECRET_ACCESS_KEY
 * of the stack's config, `test` by default (what every client of the local stack uses).
 */
export interface PolicyVerifier {
  secretAccessKey: string;
}

// Fields the policy need not name (S3: "each form field … except x-amz-signature, file, policy,
// and field names that have an x-ignore- prefix must appear in the list of conditions").
const EXEMPT_FIELDS = new Set(["x-amz-signature", "file", "policy"]);

/**
 * Checks a browser-based upload (presigned POST) as S3 does before storing anything: the SigV4
 * signature over the base64 policy, the policy's expiration, and every condition against the
 * form fields (`eq` / exact match, `starts-with`, on each field; `bucket` against the bucket
 * posted to). Returns the `content-length-range` for the caller to enforce on the file.
 *
 * `fields`: every form field before the file, names lowercased. `key`: the key field as sent.
 * Throws S3RequestError: 403 AccessDenied (no policy, expired, a condition failed, a field the
 * policy does not name), 403 SignatureDoesNotMatch, 400 InvalidArgument / InvalidPolicyDocument.
 * Rules: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html and
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html
 */
export async function checkPostPolicy(
  fields: ReadonlyMap<string, string>,
  bucket: string,
  verifier: PolicyVerifier,
  now = new Date(),
): Promise<LengthRange> {
  const policyText = fields.get("policy");
  // No policy: an anonymous upload, and the buckets are private.
  if (policyText === undefined) throw new S3RequestError(403, "AccessDenied", "Access Denied");
  for (const required of ["x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"]) {
    if (!fields.get(required)) {
      throw new S3RequestError(400, "InvalidArgument", `Bucket POST must contain a field named '${required}'.`);
    }
  }
  if (fields.get("x-amz-algorithm") !== "AWS4-HMAC-SHA256") {
    throw new S3RequestError(400, "InvalidArgument", "Only AWS4-HMAC-SHA256 is supported for x-amz-algorithm.");
  }
  await verifySignature(
    policyText,
    fields.get("x-amz-credential") ?? "",
    fields.get("x-amz-signature") ?? "",
    verifier,
  );

  const policy = parsePolicy(policyText);
  const expiration = Date.parse(policy.expiration);
  if (Number.isNaN(expiration)) throw invalidPolicy("Invalid Policy: Invalid 'expiration' value.");
  if (now.getTime() > expiration) throw denied("Invalid according to Policy: Policy expired.");

  const named = new Set<string>();
  let range: LengthRange = { min: 0, max: Number.MAX_SAFE_INTEGER };
  const fieldValue = (field: string) => (field === "bucket" ? bucket : (fields.get(field) ?? ""));
  for (const condition of policy.conditions) {
    if (Array.isArray(condition)) {
      const [operator, ...args] = condition as unknown[];
      const op = String(operator).toLowerCase();
      if (op === "content-length-range") {
        const [min, max] = args.map(Number);
        if (args.length !== 2 || !Number.isInteger(min) || !Number.isInteger(max)) {
          throw invalidPolicy("Invalid Policy: Invalid content-length-range condition.");
        }
        range = { min: min as number, max: max as number };
        continue;
      }
      const [target, expected] = args;
      if ((op !== "eq" && op !== "starts-with") || args.length !== 2 || typeof expected !== "string") {
        throw invalidPolicy(`Invalid Policy: Invalid condition ${JSON.stringify(condition)}.`);
      }
      if (typeof target !== "string" || !target.startsWith("$")) {
        throw invalidPolicy(`Invalid Policy: Invalid condition ${JSON.stringify(condition)}.`);
      }
      const field = target.slice(1).toLowerCase();
      named.add(field);
      const actual = fieldValue(field);
      const ok =
        op === "eq"
          ? actual === expected
          : // Content-Type may list several types, each of which must match (S3's rule).
            (field === "content-type" ? actual.split(",").map((t) => t.trim()) : [actual]).every((value) =>
              value.startsWith(expected),
            );
      if (!ok) throw denied(`Invalid according to Policy: Policy Condition failed: ${JSON.stringify(condition)}`);
      continue;
    }
    if (typeof condition !== "object" || condition === null || Object.keys(condition).length !== 1) {
      throw invalidPolicy(`Invalid Policy: Invalid condition ${JSON.stringify(condition)}.`);
    }
    const [[name, expected]] = Object.entries(condition) as [[string, unknown]];
    const field = name.toLowerCase();
    named.add(field);
    if (fieldValue(field) !== expected) {
      throw denied(
        `Invalid according to Policy: Policy Condition failed: ["eq", "$${name}", ${JSON.stringify(expected)}]`,
      );
    }
  }
  const extra = [...fields.keys()].filter(
    (field) => !EXEMPT_FIELDS.has(field) && !field.startsWith("x-ignore-") && !named.has(field),
  );
  if (extra.length > 0) throw denied(`Invalid according to Policy: Extra input fields: ${extra.join(", ")}`);
  return range;
}

async function verifySignature(
  policy: string,
  credential: string,
  signature: string,
  verifier: PolicyVerifier,
): Promise<void> {
  // AKID/YYYYMMDD/region/s3/aws4_request
  const [accessKeyId, day, region, service, terminator] = credential.split("/");
  if (!accessKeyId || !day || !/^\d{8}$/.test(day) || !region || service !== "s3" || terminator !== "aws4_request") {
    throw new S3RequestError(400, "AuthorizationQueryParametersError", `Invalid credential: ${credential}`);
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: verifier.secretAccessKey },
    region,
    service: "s3",
    sha256: NodeSha256,
  });
  const expected = await signer.sign(policy, {
    signingDate: new Date(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}T00:00:00Z`),
    signingRegion: region,
    signingService: "s3",
  });
  const given = Buffer.from(signature.toLowerCase());
  if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected))) {
    throw new S3RequestError(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
  }
}

function parsePolicy(text: string): { expiration: string; conditions: unknown[] } {
  let policy: unknown;
  try {
    policy = JSON.parse(Buffer.from(text, "base64").toString("utf8"));
  } catch {
    throw invalidPolicy("Invalid Policy: Invalid JSON.");
  }
  const { expiration, conditions } = (policy ?? {}) as { expiration?: unknown; conditions?: unknown };
  if (typeof expiration !== "string") throw invalidPolicy("Invalid Policy: Policy missing expiration.");
  if (!Array.isArray(conditions)) throw invalidPolicy("Invalid Policy: Policy missing conditions.");
  return { expiration, conditions };
}

const denied = (message: string) => new S3RequestError(403, "AccessDenied", message);
const invalidPolicy = (message: string) => new S3RequestError(400, "InvalidPolicyDocument", message);

/**
 * Passes the file through, counting bytes: fails with EntityTooLarge as soon as it passes
 * `max`, with EntityTooSmall at the end if it is under `min` (S3's codes, status 400), so that
 * the caller aborts the store and nothing is kept.
 */
export function lengthLimit(range: LengthRange): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      size += chunk.length;
      if (size > range.max) {
        callback(
          new S3RequestError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", {
            ProposedSize: String(size),
            MaxSizeAllowed: String(range.max),
          }),
        );
        return;
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      if (size < range.min) {
        callback(
          new S3RequestError(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", {
            ProposedSize: String(size),
            MinSizeAllowed: String(range.min),
          }),
        );
        return;
      }
      callback();
    },
  });
}

/**
 * X-Amz-Expires on a presigned URL (query-string SigV4): S3 refuses the request once
 * X-Amz-Date + X-Amz-Expires has passed (403 AccessDenied, "Request has expired"), and an
 * X-Amz-Expires over 7 days. Throws S3RequestError; does nothing for other requests.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 */
export function checkPresignedExpiry(url: URL, now = new Date()): void {
  const expires = url.searchParams.get("X-Amz-Expires");
  if (expires === null) return;
  const seconds = Number(expires);
  if (!/^\d+$/.test(expires) || seconds > 604_800) {
    throw new S3RequestError(
      400,
      "AuthorizationQueryParametersError",
      "X-Amz-Expires must be a whole number of seconds, at most 604800 (7 days).",
    );
  }
  // 20260130T101500Z → 2026-01-30T10:15:00Z
  const signed = Date.parse(
    (url.searchParams.get("X-Amz-Date") ?? "").replace(
      /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
      "$1-$2-$3T$4:$5:$6Z",
    ),
  );
  if (Number.isNaN(signed)) {
    throw new S3RequestError(
      400,
      "AuthorizationQueryParametersError",
      "X-Amz-Date must be in the ISO8601 basic format.",
    );
  }
  const expiry = signed + seconds * 1000;
  if (now.getTime() > expiry) {
    throw new S3RequestError(403, "AccessDenied", "Request has expired", {
      "X-Amz-Expires": expires,
      Expires: new Date(expiry).toISOString(),
      ServerTime: now.toISOString(),
    });
  }
}

/** SHA-256 (or HMAC-SHA256 with a key) from node:crypto, in the shape the signer wants. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
