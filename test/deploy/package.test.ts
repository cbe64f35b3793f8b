// The deployment zip as Lambda gets it: built once per architecture, unpacked into a temp
// directory, and the x86_64 one run in a fresh Node process the way Lambda's runtime does.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { unzipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { toSqsEvent } from "../../src/pipeline/worker.ts";
import {
  BUNDLE_FILE,
  buildLambdaPackage,
  LAMBDA_LIMITS,
  type LambdaPackage,
} from "../../src/provision/deploy/package.ts";
import { functionEnvironment, LAMBDA_HANDLER } from "../../src/provision/deploy/spec.ts";
import { type ImageItem, imageIdFor } from "../../src/store/metadata.ts";
import { createPipeline, jpeg, type Pipeline, waitFor } from "../helpers.ts";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
const projectPackage = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** What sharp needs at run time on this CPU: nothing else may sit in the zip's node_modules. */
function runtimePackages(cpu: "x64" | "arm64"): string[] {
  return [
    "@img/colour",
    `@img/sharp-libvips-linux-${cpu}`,
    `@img/sharp-linux-${cpu}`,
    "detect-libc",
    "semver",
    "sharp",
  ];
}

function packagesIn(files: string[]): string[] {
  const names = new Set<string>();
  for (const file of files) {
    const match = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (match?.[1]) names.add(match[1]);
  }
  return [...names].sort();
}

async function unpack(pkg: LambdaPackage): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `lambda-${pkg.architecture}-`));
  for (const [name, data] of Object.entries(unzipSync(await readFile(pkg.path)))) {
    if (name.endsWith("/")) continue;
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), data);
  }
  return dir;
}

describe("the Lambda package (x86_64)", () => {
  let outDir: string;
  let pkg: LambdaPackage;
  let unpacked: string;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), "lambda-zip-"));
    pkg = await buildLambdaPackage({ architecture: "x86_64", outDir });
    unpacked = await unpack(pkg);
  });
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
    await rm(unpacked, { recursive: true, force: true });
  });

  it("holds the bundled handler and sharp's linux-x64 glibc binaries", () => {
    expect(LAMBDA_HANDLER).toBe(`${BUNDLE_FILE.replace(/\.mjs$/, "")}.handler`);
    expect(pkg.files).toContain(BUNDLE_FILE);
    expect(pkg.files).toContain(`node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64-${pkg.sharpVersion}.node`);
    expect(pkg.files.some((f) => /^node_modules\/@img\/sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/.test(f))).toBe(
      true,
    );
    // No other platform's binaries: not the host's musl ones, not arm64, not darwin.
    expect(pkg.files.filter((f) => /\.(node|so(\.\d+)*)$/.test(f) && !/linux-x64\//.test(f))).toEqual([]);
  });

  it("holds nothing it does not need: no dev dependencies, tests, sources or type declarations", () => {
    expect(packagesIn(pkg.files)).toEqual(runtimePackages("x64"));
    const dev = Object.keys(projectPackage.devDependencies);
    expect(packagesIn(pkg.files).filter((p) => dev.includes(p))).toEqual([]);
    expect(pkg.bundledPackages.filter((p) => dev.includes(p))).toEqual([]);
    expect(pkg.files.filter((f) => /(^|\/)(test|tests|__tests__)\/|\.test\.|\.(ts|cc|h|md)$/.test(f))).toEqual([]);
    expect(pkg.files.filter((f) => !f.startsWith("node_modules/"))).toEqual([BUNDLE_FILE]);
  });

  it("fits Lambda's size limits by far", () => {
    expect(pkg.zippedBytes).toBeLessThan(LAMBDA_LIMITS.zippedBytes / 2);
    expect(pkg.unzippedBytes).toBeLessThan(LAMBDA_LIMITS.unzippedBytes / 4);
  });

  it("is byte-identical when built again, so a re-deploy uploads nothing", async () => {
    const again = await buildLambdaPackage({ architecture: "x86_64", outDir: path.join(outDir, "again") });
    expect(again.sha256).toBe(pkg.sha256);
  });

  describe("invoked like Lambda invokes it", () => {
    let p: Pipeline;
    beforeAll(async () => {
      p = await createPipeline();
    });
    afterAll(() => p.close());

    it("processes an upload's real S3 event from a fresh Node process and reports only the bad record", async () => {
      const good = await p.upload("from-lambda.jpg", await jpeg(640, 480), "image/jpeg");
      const corrupt = await p.upload("corrupt.jpg", Buffer.from("not an image at all"), "image/jpeg");
      // HEVC is decoded by libheif in WebAssembly, which must be inside the bundle.
      const heic = await p.upload(
        "from-lambda.heic",
        await readFile(path.join(root, "img", "derived-heic-1280x800.heic")),
        "image/heic",
      );
      // The S3 notifications the uploads produced, exactly as the event source mapping would receive them.
      const received: Message[] = [];
      const messages = await waitFor(
        async () => {
          const res = await p.clients.sqs.send(
            new ReceiveMessageCommand({ QueueUrl: p.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
          );
          received.push(...(res.Messages ?? []));
          const ours = received.filter((m) => [good, corrupt, heic].some((key) => m.Body?.includes(key)));
          return ours.length === 3 ? ours : undefined;
        },
        10_000,
        "the uploads' S3 notifications",
      );
      const event = toSqsEvent(messages, "arn:aws:sqs:us-east-1:000000000000:queue", "us-east-1");
      event.Records.push({ ...(event.Records[0] as (typeof event.Records)[number]), messageId: "garbage", body: "{" });

      const script = path.join(unpacked, "..", `invoke-${path.basename(unpacked)}.mjs`);
      await writeFile(
        script,
        [
          'import { createRequire } from "node:module";',
          "const [bundle, event] = process.argv.slice(2);",
          "const { handler } = await import(bundle);",
          "const sharp = createRequire(new URL(bundle)).resolve('sharp');",
          "const response = await handler(JSON.parse(event), {});",
          "process.stdout.write('RESULT ' + JSON.stringify({ response, sharp }) + '\\n');",
        ].join("\n"),
      );
      try {
        const { stdout } = await run(
          process.execPath,
          [script, pathToFileURL(path.join(unpacked, BUNDLE_FILE)).href, JSON.stringify(event)],
          {
            // Lambda's environment: the function's variables, the role's keys, no endpoint but ours.
            env: {
              ...functionEnvironment(p.config),
              AWS_ENDPOINT_URL: inject("endpoint"),
              AWS_REGION: "us-east-1",
              AWS_ACCESS_KEY_ID: "test",
              AWS_SECRET_ACCESS_KEY: "test",
              AWS_LAMBDA_FUNCTION_NAME: `${p.config.names.prefix}-thumbnailer`,
            },
            cwd: unpacked,
          },
        );
        const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
        const result = JSON.parse(line?.slice("RESULT ".length) ?? "{}");
        expect(result.response).toEqual({ batchItemFailures: [{ itemIdentifier: "garbage" }] });
        // sharp came from the zip, not from the project's node_modules.
        expect(result.sharp.startsWith(unpacked)).toBe(true);
      } finally {
        await rm(script, { force: true });
      }

      const processed = await p.waitForItem(good, undefined, 1000);
      expect(processed).toMatchObject({ status: "PROCESSED", width: 640, height: 480 });
      for (const thumb of processed.thumbnails ?? []) {
        expect((await p.getObject(p.config.names.thumbnailsBucket, thumb.key)).length).toBe(thumb.bytes);
      }
      expect(await p.waitForItem(heic, undefined, 1000)).toMatchObject({
        status: "PROCESSED",
        format: "heic",
        width: 1280,
        height: 800,
      });
      const failed: ImageItem = await p.waitForItem(corrupt, undefined, 1000);
      expect(failed).toMatchObject({ status: "FAILED", imageId: imageIdFor(p.config.names.uploadsBucket, corrupt) });
    });
  });
});

describe("the Lambda package (arm64)", () => {
  it("holds sharp's linux-arm64 binaries and no x64 ones", async () => {
    const outDir = await mkdtemp(path.join(tmpdir(), "lambda-zip-"));
    try {
      const pkg = await buildLambdaPackage({ architecture: "arm64", outDir });
      expect(pkg.files).toContain(`node_modules/@img/sharp-linux-arm64/lib/sharp-linux-arm64-${pkg.sharpVersion}.node`);
      expect(
        pkg.files.some((f) => /^node_modules\/@img\/sharp-libvips-linux-arm64\/lib\/libvips-cpp\.so/.test(f)),
      ).toBe(true);
      expect(pkg.files.filter((f) => /x64/.test(f))).toEqual([]);
      expect(packagesIn(pkg.files)).toEqual(runtimePackages("arm64"));
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });
});
