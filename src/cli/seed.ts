// npm run seed-images [folder]: upload a folder of images and wait for every result.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { SingleBar } from "cli-progress";
import pLimit from "p-limit";
import { z } from "zod";
import type { Clients } from "../aws/clients.ts";
import { describeTarget } from "../config.ts";
import { escapeTerminal, formatBytes } from "../format.ts";
import { stripQuotes } from "../pipeline/events.ts";
import { pollUntil } from "../poll.ts";
import { getImageItem, type ImageItem, ImageStatus, imageIdFor } from "../store/metadata.ts";
import { formatTable } from "../table.ts";
import { command, Exit, parseCommand, positiveNumber, wholeNumber } from "./command.ts";
import { configFromEnvironment, fail, withClients } from "./env.ts";

const CONTENT_TYPES: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".avif": "image/avif",
  ".heic": "image/heic",
  ".heif": "image/heif",
};

const values = parseCommand(
  command("seed-images", "Uploads a folder of images to the uploads bucket and waits for each one's result.")
    .argument("[folder]", "the folder to upload", "img")
    .option("--timeout <seconds>", "how long to wait for the results", "120")
    .option("--concurrency <n>", "uploads in flight at once", "4"),
  z.object({ args: z.tuple([z.string()]), timeout: positiveNumber(), concurrency: wholeNumber(1) }),
);
const [folder] = values.args;
const timeoutMs = values.timeout * 1000;
const config = configFromEnvironment();

const files = (
  await readdir(folder).catch((error: NodeJS.ErrnoException) =>
    error.code === "ENOTDIR"
      ? fail(`Not a folder: ${folder} (seed-images uploads the images in a folder)`, Exit.Usage)
      : error.code === "ENOENT"
        ? fail(`No such folder: ${folder}`, Exit.NotFound)
        : fail(`Cannot read ${folder}: ${error.message}`),
  )
)
  .filter((name) => !name.startsWith(".") && CONTENT_TYPES[path.extname(name).toLowerCase()])
  .sort();
if (files.length === 0) fail(`No images in ${folder}/ (looked for ${Object.keys(CONTENT_TYPES).join(" ")})`);

console.log(
  `Uploading ${files.length} images from ${escapeTerminal(folder)}/ to s3://${config.names.uploadsBucket}/${config.uploadPrefix} on ${describeTarget(config)}`,
);

interface Upload {
  name: string;
  key: string;
  bytes: number;
  uploadedAt: number;
  /** S3's ETag of what was put (no quotes): the worker skips a version it has recorded already. */
  eTag: string | undefined;
  item?: ImageItem;
  error?: string;
}

const bar = new SingleBar({ format: "{phase} [{bar}] {value}/{total}", hideCursor: true, noTTYOutput: false });
bar.start(files.length * 2, 0, { phase: "upload " });
const uploads = await withClients(config, "Upload failed", async (clients) => {
  try {
    const uploads = await upload(clients);
    bar.update({ phase: "process" });
    await waitForResults(clients, uploads);
    return uploads;
  } finally {
    bar.stop();
  }
});

async function upload(clients: Clients): Promise<Upload[]> {
  const limit = pLimit(values.concurrency);
  return Promise.all(
    files.map((name) =>
      limit(async () => {
        const file = path.join(folder, name);
        const body = await readFile(file);
        const key = `${config.uploadPrefix}${name}`;
        const uploadedAt = Date.now();
        const { ETag } = await clients.s3.send(
          new PutObjectCommand({
            Bucket: config.names.uploadsBucket,
            Key: key,
            Body: body,
            ContentType: CONTENT_TYPES[path.extname(name).toLowerCase()],
          }),
        );
        bar.increment();
        return { name, key, bytes: body.length, uploadedAt, eTag: ETag === undefined ? undefined : stripQuotes(ETag) };
      }),
    ),
  );
}

/**
 * The worker writes one item per upload: waits for an item newer than each upload, or for the
 * item of these very bytes (same ETag) when they were processed before: the worker skips a
 * version it has recorded already, so seeding the same folder again writes no new result.
 */
async function waitForResults(clients: Clients, uploads: Upload[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    uploads.map(async (upload) => {
      const imageId = imageIdFor(config.names.uploadsBucket, upload.key);
      const item = await pollUntil(
        async () => {
          const found = await getImageItem(clients, config.names, imageId);
          if (!found || found.status === ImageStatus.Deleted) return undefined;
          const fresh = Date.parse(found.processedAt) >= upload.uploadedAt - 1000;
          return fresh || (upload.eTag !== undefined && found.eTag === upload.eTag) ? found : undefined;
        },
        { deadline, intervalMs: 250 },
      );
      if (!item) {
        upload.error = "timed out: is the worker running (npm start)?";
        return;
      }
      upload.item = item;
      bar.increment();
    }),
  );
}

const rows = uploads.map((u) => {
  const item = u.item;
  const thumbs = item?.thumbnails?.map((t) => `${t.width}×${t.height}`).join(", ") ?? "";
  return [
    u.name,
    formatBytes(u.bytes),
    item?.width ? `${item.width}×${item.height}` : "",
    item?.status ?? "TIMEOUT",
    item?.status === "FAILED" ? (item.errorMessage ?? "") : thumbs || (u.error ?? ""),
    item?.processingMs ?? 0,
  ] as (string | number)[];
});
console.log(formatTable(["name", "size", "dimensions", "status", "thumbnails", "ms"], rows));
const processed = uploads.filter((u) => u.item?.status === "PROCESSED").length;
const failed = uploads.filter((u) => u.item?.status === "FAILED").length;
const timedOut = uploads.filter((u) => !u.item).length;
console.log(`${processed} processed, ${failed} failed, ${timedOut} timed out (of ${uploads.length}).`);
process.exitCode = failed + timedOut > 0 ? 1 : 0;
