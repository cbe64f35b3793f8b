// `npm run deploy -- --dry-run` as a new user runs it before having any credentials.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../../src/config.ts";

const run = promisify(execFile);

/** The shell's environment (npm needs its proxy and CA settings) minus anything AWS or pipeline. */
function withoutAwsOrPipelineSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([key]) => !key.startsWith("AWS_") && !CONFIG_VARIABLES.includes(key)),
  );
}
const root = path.resolve(import.meta.dirname, "../..");

describe("npm run deploy -- --dry-run", () => {
  let cwd: string;
  beforeAll(async () => {
    // Outside the project, so that no .env is read.
    cwd = await mkdtemp(path.join(tmpdir(), "deploy-dry-run-"));
  });
  afterAll(() => rm(cwd, { recursive: true, force: true }));

  it("prints a complete plan for AWS with nothing but a region, and changes nothing", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--import", import.meta.resolve("tsx"), path.join(root, "bootstrap/deploy.ts"), "--dry-run", "--arch", "arm64"],
      {
        cwd,
        env: {
          ...withoutAwsOrPipelineSettings(process.env),
          AWS_REGION: "us-west-2",
          AWS_ENDPOINT_URL: "",
          NAME_PREFIX: "dry-run-demo",
          // No credentials anywhere the SDK looks.
          AWS_SHARED_CREDENTIALS_FILE: path.join(cwd, "none"),
          AWS_CONFIG_FILE: path.join(cwd, "none"),
          AWS_EC2_METADATA_DISABLED: "true",
        },
      },
    );
    expect(stdout).toMatch(/on AWS \(us-west-2\).*dry run/);
    expect(stdout).toMatch(/Package .*lambda-arm64\.zip: [\d.]+ MB zipped/);
    for (const expected of [
      /bootstrap\s+dry-run-demo-\*/,
      /sqs-queue\s+dry-run-demo-upload-events\s+create or update\s+VisibilityTimeout 120 s ≥ 6 × function timeout 20 s/,
      /iam-role\s+LabRole or dry-run-demo-thumbnailer/,
      /s3:GetObject on arn:aws:s3:::dry-run-demo-uploads\/uploads\/\*/,
      /log-group\s+\/aws\/lambda\/dry-run-demo-thumbnailer\s+create or update\s+retention 14 days/,
      /lambda-function\s+dry-run-demo-thumbnailer\s+create or update\s+nodejs24\.x, arm64, 1536 MB, timeout 20 s/,
      /sharp [\d.]+ linux-arm64/,
      /env NAME_PREFIX=dry-run-demo TABLE_NAME=ImageMetadata/,
      /event-source-mapping .* ReportBatchItemFailures, at most 5 concurrent invocations/,
      /cloudwatch-alarm\s+dry-run-demo-lambda-errors .*→ arn:aws:sns:us-west-2:<account-id>:dry-run-demo-failures/,
      /The current state was not read \(no credentials\)/,
      /Dry run: nothing was changed/,
    ]) {
      expect(stdout).toMatch(expected);
    }
    expect(stdout).not.toMatch(/AWS_ENDPOINT_URL=|SECRET|SESSION_TOKEN/);
  });
});
