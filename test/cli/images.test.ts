import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import { startWorker, type Worker } from "../../src/pipeline/worker.ts";
import type { ImageItem } from "../../src/store/metadata.ts";
import { type CliRun, createPipeline, jpeg, type Pipeline, runImagesCli } from "../helpers.ts";

let pipeline: Pipeline;
let worker: Worker | undefined;
const keys = { older: "", newer: "", broken: "" };
const items: Record<keyof typeof keys, ImageItem> = {} as Record<keyof typeof keys, ImageItem>;

/** The CLI as a user runs it: a separate process, configured only by its environment. */
function images(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runImagesCli(pipeline.config, args, env);
}

async function json<T>(args: string[]): Promise<T> {
  const run = await images([...args, "--json"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

async function thumbnailKeys(imageId: string): Promise<string[]> {
  const page = await pipeline.clients.s3.send(
    new ListObjectsV2Command({ Bucket: pipeline.config.names.thumbnailsBucket, Prefix: `${imageId}/` }),
  );
  return (page.Contents ?? []).map((o) => o.Key ?? "").sort();
}

beforeAll(async () => {
  pipeline = await createPipeline({ worker: true });
  // One at a time, so that upload dates (and so the list order) are certain.
  keys.older = await pipeline.upload("older.jpg", await jpeg(300, 200), "image/jpeg");
  items.older = await pipeline.waitForItem(keys.older);
  keys.newer = await pipeline.upload("newer.jpg", await jpeg(200, 300), "image/jpeg");
  items.newer = await pipeline.waitForItem(keys.newer);
  keys.broken = await pipeline.upload("broken.jpg", Buffer.from("not an image"), "image/jpeg");
  items.broken = await pipeline.waitForItem(keys.broken);
});

afterAll(async () => {
  await worker?.stop();
  await pipeline?.close();
});

describe("npm run images", () => {
  test("--help works for the program and every command, without a stack or a valid .env", async () => {
    const commands = ["list", "get", "find", "delete", "reprocess"];
    const runs = await Promise.all([
      images(["--help"], { NAME_PREFIX: "Not_Valid" }),
      ...commands.map((command) => images([command, "--help"], { NAME_PREFIX: "Not_Valid" })),
    ]);
    for (const run of runs) expect(run.code).toBe(0);
    expect(runs[0]?.stdout).toMatch(/Exit codes: 0 ok, 1 error .* 3 no such image/s);
    commands.forEach((command, i) => {
      expect(runs[i + 1]?.stdout).toContain(`Usage: npm run images -- ${command}`);
    });
  });

  test("list shows the newest first through the index, and pages with a cursor", async () => {
    const table = await images(["list"]);
    expect(table.code).toBe(0);
    const order = ["broken.jpg", "newer.jpg", "older.jpg"].map((name) => table.stdout.indexOf(name));
    expect(order.every((at) => at > 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(table.stdout).toContain("FAILED NOT_AN_IMAGE");
    expect(table.stdout).toContain("3 image(s), newest first; Query on index byUploadDate");

    const first = await json<{ items: ImageItem[]; nextCursor?: string }>(["list", "--limit", "2"]);
    expect(first.items.map((i) => i.name)).toEqual(["broken.jpg", "newer.jpg"]);
    expect(first.nextCursor).toBeDefined();
    const rest = await json<{ items: ImageItem[]; nextCursor?: string }>([
      "list",
      "--limit",
      "2",
      "--cursor",
      first.nextCursor ?? "",
    ]);
    expect(rest.items.map((i) => i.name)).toEqual(["older.jpg"]);
    expect(rest.nextCursor).toBeUndefined();
  });

  test("list filters by status and date, and rejects a bad date or limit with exit code 2", async () => {
    const [failed, future, badDate, badLimit, badStatus] = await Promise.all([
      json<{ items: ImageItem[] }>(["list", "--status", "failed"]),
      images(["list", "--since", "2999-01-01"]),
      images(["list", "--until", "2024-02-30"]),
      images(["list", "--limit", "0"]),
      images(["list", "--status", "pending"]),
    ]);
    expect(failed.items.map((i) => i.imageId)).toEqual([items.broken.imageId]);
    expect(future.code).toBe(0);
    expect(future.stdout).toContain("No images match.");
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain("until is not a valid date: 2024-02-30");
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain("a whole number of at least 1");
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toContain("processed or failed");
  });

  test("get finds an image by id, key or name and presigns working URLs", async () => {
    const byId = await json<{ item: ImageItem; urls: { original: string; thumbnails: { url: string }[] } }>([
      "get",
      items.older.imageId,
    ]);
    const [byKey, byName] = await Promise.all([
      json<{ item: ImageItem }>(["get", keys.older]),
      json<{ item: ImageItem }>(["get", "older.jpg"]),
    ]);
    expect(byKey.item).toEqual(byId.item);
    expect(byName.item).toEqual(byId.item);
    expect(byId.item.thumbnails?.length).toBe(2);
    expect(byId.urls.thumbnails).toHaveLength(2);
    for (const url of [byId.urls.original, ...byId.urls.thumbnails.map((t) => t.url)]) {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("image/jpeg");
    }

    const text = await images(["get", "older.jpg"]);
    expect(text.stdout).toMatch(/^status\s+PROCESSED$/m);
    expect(text.stdout).toMatch(/^sequencer\s+[0-9A-F]{32}$/m);
    expect(text.stdout).toContain("Presigned URLs (valid for 1 h):");
  });

  test("get of an unknown image exits 3 and says what it looked for", async () => {
    const run = await images(["get", "nothing-here.jpg"]);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(`No image "nothing-here.jpg" in table ${pipeline.config.names.table}`);
  });

  test("find scans with a filter and says so, with the number of items read", async () => {
    const prefix = await images(["find", "newer"]);
    expect(prefix.code).toBe(0);
    expect(prefix.stdout).toContain("newer.jpg");
    expect(prefix.stdout).not.toContain("older.jpg");
    expect(prefix.stdout).toContain(`Scan of table ${pipeline.config.names.table}`);
    expect(prefix.stdout).toContain("read 3 item(s); 1 matched.");

    const substring = await json<{ method: string; scannedCount: number; items: ImageItem[] }>(["find", "er.jp"]);
    expect(substring.method).toBe("scan");
    expect(substring.scannedCount).toBe(3);
    expect(substring.items.map((i) => i.name).sort()).toEqual(["newer.jpg", "older.jpg"]);

    const limited = await images(["find", "er.jp", "--limit", "1"]);
    expect(limited.stdout).toContain("2 matched. Showing 1: raise --limit for more.");

    const none = await images(["find", "no-such-name"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('No images match "no-such-name".');
  });

  test("find answers a thumbnail URL with one GetItem instead of a Scan", async () => {
    const url = `http://localhost/${pipeline.config.names.thumbnailsBucket}/${items.newer.imageId}/128.jpg`;
    const result = await json<{ method: string; items: ImageItem[] }>(["find", url]);
    expect(result.method).toBe("get");
    expect(result.items.map((i) => i.imageId)).toEqual([items.newer.imageId]);
  });

  test("reprocess applies a new thumbnail size to an old image and keeps its place in the list", async () => {
    // The bug fix or new size ships with the worker: restart it with three sizes.
    await pipeline.worker?.stop();
    const config = {
      ...pipeline.config,
      thumbnails: { ...pipeline.config.thumbnails, sizes: [64, 128, 512] },
    };
    worker = await startWorker({ config, clients: pipeline.clients, logger: silentLogger });

    const run = await images(["reprocess", "older.jpg", "--wait", "--timeout", "20", "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { outcomes: { result: string }[]; items: ImageItem[] };
    expect(result.outcomes.map((o) => o.result)).toEqual(["queued"]);
    const after = result.items[0] as ImageItem;
    expect(after.thumbnails?.map((t) => t.size)).toEqual([64, 128, 512]);
    expect(after.processedAt).not.toBe(items.older.processedAt);
    expect(after.uploadDate).toBe(items.older.uploadDate);
    expect(after.sequencer).toBe(items.older.sequencer);
    expect(await thumbnailKeys(items.older.imageId)).toHaveLength(3);
  });

  test("reprocess --failed re-enqueues exactly the FAILED images and exits 1 if they fail again", async () => {
    const run = await images(["reprocess", "--failed", "--wait", "--timeout", "20"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(keys.broken);
    expect(run.stdout).not.toContain(keys.newer);
    expect(run.stdout).toContain("0 processed, 1 failed, 0 timed out, 0 not queued.");
  });

  test("reprocess needs either images or --failed", async () => {
    const [neither, both] = await Promise.all([images(["reprocess"]), images(["reprocess", "--failed", "newer.jpg"])]);
    expect(neither.code).toBe(2);
    expect(both.code).toBe(2);
    expect(neither.stderr).toContain("Give either images to reprocess or --failed.");
  });

  test("delete refuses without --yes when not on a terminal, and deletes nothing", async () => {
    const run = await images(["delete", "newer.jpg"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("pass --yes");
    expect((await images(["get", "newer.jpg"])).code).toBe(0);
  });

  test("delete removes the original, every thumbnail under the image and the item, and nothing else", async () => {
    // A thumbnail of a size no longer configured: still this image's, so it goes too.
    const orphan = `${items.older.imageId}/32.jpg`;
    await pipeline.clients.s3.send(
      new PutObjectCommand({ Bucket: pipeline.config.names.thumbnailsBucket, Key: orphan, Body: await jpeg(32, 21) }),
    );
    const before = await thumbnailKeys(items.older.imageId);
    expect(before).toContain(orphan);

    const result = await json<{ imageId: string; thumbnails: string[] }>(["delete", "older.jpg", "--yes"]);
    expect(result.imageId).toBe(items.older.imageId);
    expect(result.thumbnails).toEqual(before);

    expect(await thumbnailKeys(items.older.imageId)).toEqual([]);
    const head = pipeline.clients.s3.send(
      new HeadObjectCommand({ Bucket: pipeline.config.names.uploadsBucket, Key: keys.older }),
    );
    await expect(head).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    expect((await images(["get", items.older.imageId])).code).toBe(3);

    // The other images are untouched.
    const left = await json<{ items: ImageItem[] }>(["list"]);
    expect(left.items.map((i) => i.name)).toEqual(["broken.jpg", "newer.jpg"]);
    expect(await thumbnailKeys(items.newer.imageId)).toHaveLength(2);
    await pipeline.clients.s3.send(
      new HeadObjectCommand({ Bucket: pipeline.config.names.uploadsBucket, Key: keys.newer }),
    );
  });

  test("delete and reprocess of an unknown image exit 3", async () => {
    const [del, again] = await Promise.all([
      images(["delete", "older.jpg", "--yes"]),
      images(["reprocess", "newer.jpg", "older.jpg"]),
    ]);
    expect(del.code).toBe(3);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('No image "older.jpg"');
  });

  test("with no stack at the endpoint, says so in one line and exits 1", async () => {
    const port = await closedPort();
    const run = await images(["list"], { AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      `error: Nothing answers at http://127.0.0.1:${port}. Start the stack first: \`npm start\` (embedded) or \`docker compose up\` (LocalStack).`,
    );
  });

  test("with something else than AWS at the endpoint, says so in one line and exits 1", async () => {
    const web = createHttpServer((_req, res) => res.writeHead(404, { "content-type": "text/html" }).end("<h1>no</h1>"));
    await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
    const { port } = web.address() as AddressInfo;
    try {
      const run = await images(["list"], { AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` });
      expect(run.code).toBe(1);
      expect(run.stderr.trim()).toBe(
        `error: http://127.0.0.1:${port} answered HTTP 404, but not as an AWS service: is AWS_ENDPOINT_URL the stack's address (\`npm start\` says it)?`,
      );
    } finally {
      web.close();
    }
  });

  test("with no table of that name, points at TABLE_NAME and bootstrap", async () => {
    const run = await images(["list"], { TABLE_NAME: "NoSuchTable" });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Table NoSuchTable does not exist");
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address ? address.port : 1;
}
