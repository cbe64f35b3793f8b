import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand as GetSqsAttributes } from "@aws-sdk/client-sqs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import { startWorker, type Worker } from "../../src/pipeline/worker.ts";
import {
  getImageItem,
  type ImageItem,
  ImageStatus,
  imageIdFor,
  LIST_SHARDS,
  listShardFor,
} from "../../src/store/metadata.ts";
import { createPipeline, jpeg, type Pipeline, waitFor } from "../helpers.ts";
import { skipUnlessSupported } from "../skip.ts";

/**
 * The compatibility suite: AWS tools nobody here wrote drive the test backend (the embedded
 * stack unless AWS_ENDPOINT_URL or Docker says otherwise) as a user would, and the pipeline's
 * result is checked. Two toolchains, so that both of SQS's protocols are covered:
 *  - Debian 12's `awscli` 2.9 and `python3-boto3` 1.26: SQS's query protocol (XML);
 *  - the AWS CLI v1 and boto3 of a pip/pyenv `python3` on PATH: SQS's JSON protocol.
 */
export interface Toolchain {
  name: string;
  aws?: { path: string; version: string };
  python?: { path: string; boto3: string };
  /** Why this toolchain cannot run, and how to get it. */
  missing?: string;
  /** Give the endpoint only as AWS_ENDPOINT_URL (botocore ≥ 1.31): the pip toolchain checks that it works. */
  endpointFromEnvironment: boolean;
}

const INSTALL_DEBIAN = "sudo apt-get install awscli python3-boto3";

/** Debian's /usr/bin/aws and /usr/bin/python3 with boto3, as `apt-get install awscli python3-boto3` gives. */
export function debianToolchain(): Toolchain {
  const aws = existsSync("/usr/bin/aws") ? awsVersion("/usr/bin/aws") : undefined;
  const boto3 = existsSync("/usr/bin/python3") ? boto3Of("/usr/bin/python3") : undefined;
  const toolchain: Toolchain = {
    name: `Debian awscli ${aws?.version ?? "(absent)"} + python3-boto3 ${boto3?.boto3 ?? "(absent)"}`,
    endpointFromEnvironment: false,
    ...(aws && { aws }),
    ...(boto3 && { python: boto3 }),
  };
  if (!aws || !boto3) {
    toolchain.missing = `Debian's ${aws ? "" : "awscli (/usr/bin/aws) "}${boto3 ? "" : "python3-boto3 "}is not installed: ${INSTALL_DEBIAN}`;
  }
  return toolchain;
}

/** The `python3` first on the user's PATH (pyenv, venv…) when it is not Debian's and has boto3, with its `aws`. */
export function pipToolchain(): Toolchain {
  const found = boto3Of("python3");
  const isDebian = found !== undefined && realpathSync(found.path).startsWith("/usr/bin/");
  const awsPath = found && path.join(path.dirname(found.path), "aws");
  const aws = awsPath && existsSync(awsPath) ? awsVersion(awsPath) : undefined;
  const toolchain: Toolchain = {
    name: `pip AWS CLI ${aws?.version ?? "(absent)"} + boto3 ${found?.boto3 ?? "(absent)"}`,
    endpointFromEnvironment: true,
    ...(aws && !isDebian && { aws }),
    ...(found && !isDebian && { python: found }),
  };
  if (!found || isDebian || !aws) {
    toolchain.missing =
      "no python3 on PATH other than Debian's with boto3 and the AWS CLI v1 beside it (pip install awscli boto3) " +
      "to cover SQS's JSON protocol with Python clients";
  }
  return toolchain;
}

function awsVersion(file: string): { path: string; version: string } | undefined {
  const result = spawnSync(file, ["--version"], { env: cleanEnv(tmpdir(), "/dev/null", ""), encoding: "utf8" });
  const version = `${result.stdout}${result.stderr}`.match(/aws-cli\/(\S+)/)?.[1];
  return result.status === 0 && version ? { path: file, version } : undefined;
}

function boto3Of(python: string): { path: string; boto3: string } | undefined {
  // Discovery only reads the user's PATH to find the interpreter; runs use a clean environment.
  const result = spawnSync(python, ["-c", "import sys, boto3; print(sys.executable); print(boto3.__version__)"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? tmpdir() },
  });
  const [executable, version] = result.stdout?.trim().split("\n") ?? [];
  return result.status === 0 && executable && version ? { path: executable, boto3: version } : undefined;
}

/**
 * What the clients see: test credentials and region, the endpoint, no user configuration
 * (AWS_PROFILE, ~/.aws, a pager) and nothing else of the shell they were started from.
 */
function cleanEnv(home: string, configFile: string, endpoint: string): NodeJS.ProcessEnv {
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ENDPOINT_URL: endpoint,
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    AWS_PAGER: "",
  };
}

const run = promisify(execFile);
const UPLOAD_SCRIPT = fileURLToPath(new URL("./boto3-upload.py", import.meta.url));
/** The CLI's multipart threshold here (its default is 8 MB); the "big" file is above it. */
const PART_BYTES = 5 * 1024 * 1024;
/** Each client process costs about a second of CPU (Python start-up, botocore's models); a loaded machine, much more. */
const SCENARIO_STEP_MS = 240_000;

/** The compatibility scenario for one toolchain. Its tests run in order and share one pipeline. */
export function describeRealClients(toolchain: Toolchain): void {
  describe(`real clients: ${toolchain.name}`, () => {
    let pipeline: Pipeline;
    let worker: Worker | undefined;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    const tag = toolchain.endpointFromEnvironment ? "pip" : "debian";
    const ran: string[] = [];

    beforeAll(async () => {
      if (toolchain.missing) return;
      pipeline = await createPipeline();
      dir = mkdtempSync(path.join(tmpdir(), "compat-"));
      const configFile = path.join(dir, "config");
      writeFileSync(
        configFile,
        `[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = ${PART_BYTES}\n  multipart_chunksize = ${PART_BYTES}\n`,
      );
      env = cleanEnv(dir, configFile, inject("endpoint"));
      writeFileSync(path.join(dir, "small.jpg"), await jpeg(640, 480));
      // Noise does not compress: ~6.3 MB of real JPEG, so the CLI uploads it in two parts.
      const noise = { type: "gaussian", mean: 128, sigma: 60 } as const;
      const big = await sharp({ create: { width: 1500, height: 1500, channels: 3, background: "#888", noise } })
        .jpeg({ quality: 100, chromaSubsampling: "4:4:4" })
        .toBuffer();
      expect(big.length).toBeGreaterThan(PART_BYTES);
      writeFileSync(path.join(dir, "big.jpg"), big);
    });

    afterAll(async () => {
      if (toolchain.missing) return;
      if (ran.length > 0) console.info(`compat, ${toolchain.name}:\n  ${ran.join("\n  ")}`);
      await worker?.stop();
      await pipeline?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** Runs a client; `shown` is the command as the report prints it. */
    async function client(file: string, args: string[], shown: string): Promise<string> {
      try {
        const { stdout } = await run(file, args, { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
        ran.push(`${shown}: ok`);
        return stdout;
      } catch (error) {
        const { stderr, code } = error as { stderr?: string; code?: number };
        ran.push(`${shown}: FAILED (exit ${code})`);
        throw new Error(`${shown} failed (exit ${code}): ${stderr?.trim()}`);
      }
    }

    async function aws(...args: string[]): Promise<string> {
      // The AWS CLI v1 points `aws sqs` at queue.amazonaws.com in us-east-1 unless
      // --endpoint-url is given: AWS_ENDPOINT_URL loses (awscli/customizations/overridesslcommonname.py).
      const fromEnvironment = toolchain.endpointFromEnvironment && args[0] !== "sqs";
      const endpoint = fromEnvironment ? [] : ["--endpoint-url", inject("endpoint")];
      return client(toolchain.aws?.path ?? "aws", [...endpoint, ...args], `aws ${args.join(" ")}`);
    }

    async function runningWorker(): Promise<Worker> {
      worker ??= await startWorker({ config: pipeline.config, clients: pipeline.clients, logger: silentLogger });
      return worker;
    }

    async function processed(key: string): Promise<ImageItem> {
      const item = await pipeline.waitForItem(key, (i) => i.status !== undefined, 60_000);
      expect(item, `${key}: ${item.errorCode} ${item.errorMessage}`).toMatchObject({ status: ImageStatus.Processed });
      expect(item.thumbnails?.length).toBe(pipeline.config.thumbnails.sizes.length);
      return item;
    }

    it(
      "boto3 upload_file, then the original project's {bucket_name, image_key} message: the item is processed",
      async (ctx) => {
        skipUnlessSupported(ctx, toolchain.missing);
        const { names } = pipeline.config;
        const key = `${pipeline.config.uploadPrefix}boto3-${tag}.jpg`;
        const out = await client(
          toolchain.python?.path ?? "python3",
          [UPLOAD_SCRIPT, inject("endpoint"), names.uploadsBucket, key, path.join(dir, "small.jpg"), names.queue],
          `boto3 ${toolchain.python?.boto3}: upload_file ${key}, receive+delete its S3 event, send_message {bucket_name, image_key}`,
        );
        const result = JSON.parse(out) as { eventDeleted: boolean; protocol: string };
        expect(result.protocol).toBe(toolchain.endpointFromEnvironment ? "json" : "query");
        // The S3 event is gone: only the plain message can make the item.
        expect(result.eventDeleted).toBe(true);
        await runningWorker();
        const item = await processed(key);
        for (const thumbnail of item.thumbnails ?? []) {
          await pipeline.clients.s3.send(new HeadObjectCommand({ Bucket: names.thumbnailsBucket, Key: thumbnail.key }));
        }
      },
      SCENARIO_STEP_MS,
    );

    it(
      "aws s3 cp (single part and multipart) and aws s3 ls: both images processed, thumbnails listed",
      async (ctx) => {
        skipUnlessSupported(ctx, toolchain.missing);
        await runningWorker();
        const { names, uploadPrefix } = pipeline.config;
        const small = `${uploadPrefix}cli-small-${tag}.jpg`;
        const big = `${uploadPrefix}cli-big-${tag}.jpg`;
        await aws("s3", "cp", path.join(dir, "small.jpg"), `s3://${names.uploadsBucket}/${small}`);
        await aws("s3", "cp", path.join(dir, "big.jpg"), `s3://${names.uploadsBucket}/${big}`);
        const head = await pipeline.clients.s3.send(new HeadObjectCommand({ Bucket: names.uploadsBucket, Key: big }));
        // A multipart object's ETag is the MD5 of the parts' MD5s, suffixed with the part count.
        expect(head.ETag).toMatch(/-2"$/);

        const listing = await aws("s3", "ls", `s3://${names.uploadsBucket}/${uploadPrefix}`);
        expect(listing).toContain(`cli-small-${tag}.jpg`);
        expect(listing).toMatch(new RegExp(`\\s${head.ContentLength}\\s+cli-big-${tag}\\.jpg`));

        const items = [await processed(small), await processed(big)];
        const thumbnails = await aws("s3", "ls", `s3://${names.thumbnailsBucket}/`, "--recursive");
        for (const thumbnail of items.flatMap((i) => i.thumbnails ?? [])) expect(thumbnails).toContain(thumbnail.key);
      },
      SCENARIO_STEP_MS,
    );

    it(
      "aws s3api put-object of a folder marker (no --body): stored, and the worker skips it: no item, no failure",
      async (ctx) => {
        skipUnlessSupported(ctx, toolchain.missing);
        await runningWorker();
        const { names, uploadPrefix } = pipeline.config;
        // How the CLI (and the S3 console) create a folder: zero bytes, Content-Length: 0, no Content-Type.
        const folder = `${uploadPrefix}album-${tag}/`;
        const put = JSON.parse(await aws("s3api", "put-object", "--bucket", names.uploadsBucket, "--key", folder));
        expect(put.ETag).toBe('"d41d8cd98f00b204e9800998ecf8427e"'); // MD5 of nothing
        const head = await pipeline.clients.s3.send(
          new HeadObjectCommand({ Bucket: names.uploadsBucket, Key: folder }),
        );
        expect(head.ContentLength).toBe(0);
        // An image after it: once it is processed and the queue is empty, the marker's event
        // (sent before it) was handled; a failed one would still be in flight or on the queue.
        const after = `${uploadPrefix}album-${tag}/after-folder.jpg`;
        await aws("s3", "cp", path.join(dir, "small.jpg"), `s3://${names.uploadsBucket}/${after}`);
        await processed(after);
        await waitFor(
          async () => {
            const { Attributes = {} } = await pipeline.clients.sqs.send(
              new GetSqsAttributes({
                QueueUrl: pipeline.queueUrl,
                AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
              }),
            );
            const left =
              Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
            return left === 0 ? true : undefined;
          },
          60_000,
          "the upload queue to be empty",
        );
        expect(await getImageItem(pipeline.clients, names, imageIdFor(names.uploadsBucket, folder))).toBeUndefined();
      },
      SCENARIO_STEP_MS,
    );

    it(
      "aws dynamodb query finds the images by upload date, shard by shard",
      async (ctx) => {
        skipUnlessSupported(ctx, toolchain.missing);
        const { names, uploadPrefix } = pipeline.config;
        const key = `${uploadPrefix}cli-small-${tag}.jpg`;
        const item = await processed(key);
        const day = item.uploadDate.slice(0, 10);
        // The README's command. Debian's toolchain walks every shard; the other one only the item's.
        const shards = toolchain.endpointFromEnvironment
          ? [listShardFor(imageIdFor(names.uploadsBucket, key))]
          : range(LIST_SHARDS);
        const found: Array<Record<string, { S?: string }>> = [];
        for (const shard of shards) {
          const out = await aws(
            "dynamodb",
            "query",
            "--table-name",
            names.table,
            "--index-name",
            names.uploadDateIndex,
            "--key-condition-expression",
            "listShard = :s AND uploadDate >= :since",
            "--expression-attribute-values",
            JSON.stringify({ ":s": { S: shard }, ":since": { S: day } }),
            "--no-scan-index-forward",
          );
          found.push(...(JSON.parse(out) as { Items: Array<Record<string, { S?: string }>> }).Items);
        }
        const keys = found.map((i) => i.key?.S);
        expect(keys).toContain(key);
        if (!toolchain.endpointFromEnvironment) {
          expect(keys).toEqual(expect.arrayContaining([`${uploadPrefix}cli-big-${tag}.jpg`]));
        }
        expect(found.find((i) => i.key?.S === key)?.status?.S).toBe(ImageStatus.Processed);
      },
      SCENARIO_STEP_MS,
    );

    it(
      "aws sqs list-queues, send-message, receive-message, delete-message",
      async (ctx) => {
        skipUnlessSupported(ctx, toolchain.missing);
        const { names } = pipeline.config;
        const listed = JSON.parse(await aws("sqs", "list-queues", "--queue-name-prefix", names.prefix)) as {
          QueueUrls: string[];
        };
        expect(listed.QueueUrls.map((u) => u.split("/").pop()).sort()).toEqual([names.queue, names.deadLetterQueue]);
        // The dead-letter queue: nothing consumes it, so what is sent stays for the receive.
        const url = listed.QueueUrls.find((u) => u.endsWith(`/${names.deadLetterQueue}`)) ?? "";
        const body = JSON.stringify({ bucket_name: names.uploadsBucket, image_key: "uploads/x.jpg" });
        const sent = JSON.parse(
          await aws(
            "sqs",
            "send-message",
            "--queue-url",
            url,
            "--message-body",
            body,
            "--message-attributes",
            '{"origin":{"DataType":"String","StringValue":"compat"}}',
          ),
        );
        const received = JSON.parse(
          await aws(
            "sqs",
            "receive-message",
            "--queue-url",
            url,
            "--wait-time-seconds",
            "5",
            "--attribute-names",
            "All",
            "--message-attribute-names",
            "All",
          ),
        ) as { Messages: Array<Record<string, unknown>> };
        expect(received.Messages).toHaveLength(1);
        expect(received.Messages[0]).toMatchObject({
          MessageId: sent.MessageId,
          Body: body,
          MD5OfBody: sent.MD5OfMessageBody,
          MessageAttributes: { origin: { DataType: "String", StringValue: "compat" } },
          Attributes: { ApproximateReceiveCount: "1" },
        });
        await aws(
          "sqs",
          "delete-message",
          "--queue-url",
          url,
          "--receipt-handle",
          String(received.Messages[0]?.ReceiptHandle),
        );
        const attributes = await pipeline.clients.sqs.send(
          new GetSqsAttributes({
            QueueUrl: url,
            AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
          }),
        );
        expect(attributes.Attributes).toEqual({
          ApproximateNumberOfMessages: "0",
          ApproximateNumberOfMessagesNotVisible: "0",
        });
      },
      SCENARIO_STEP_MS,
    );
  });
}

function range(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}
