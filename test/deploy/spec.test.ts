import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { functionEnvironment, visibilityProblem } from "../../src/provision/deploy/spec.ts";

describe("the function's configuration", () => {
  it("passes the pipeline's settings to the function and never credentials or an endpoint", () => {
    const config = loadConfig({
      AWS_ENDPOINT_URL: "",
      AWS_ACCESS_KEY_ID: "ASIAEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_SESSION_TOKEN: "token",
      NAME_PREFIX: "acme",
      THUMBNAIL_SIZES: "64,256",
      THUMBNAIL_FORMAT: "webp",
    });
    const env = functionEnvironment(config);
    expect(env).toMatchObject({ NAME_PREFIX: "acme", THUMBNAIL_SIZES: "64,256", THUMBNAIL_FORMAT: "webp" });
    expect(Object.keys(env).filter((k) => k.startsWith("AWS_"))).toEqual([]);
    expect(Object.values(env)).not.toContain("secret");
    // What the function's own loadConfig makes of it, on Lambda: the same pipeline, on AWS.
    const onLambda = loadConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: "acme-thumbnailer" });
    expect(onLambda.target).toEqual({ kind: "aws" });
    expect(onLambda.names).toEqual(config.names);
    expect(onLambda.thumbnails).toEqual(config.thumbnails);
  });

  it("leaves a Lambda role's temporary keys to the SDK, which also reads their session token", () => {
    const onLambda = loadConfig({
      AWS_LAMBDA_FUNCTION_NAME: "acme-thumbnailer",
      AWS_ACCESS_KEY_ID: "ASIAEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_SESSION_TOKEN: "token",
    });
    expect(onLambda.credentials).toBeUndefined();
  });

  it("gives the function LAMBDA_ENDPOINT_URL only when deploying to an emulator", () => {
    const localstack = loadConfig({ LAMBDA_ENDPOINT_URL: "http://localstack:4566/" });
    expect(functionEnvironment(localstack).AWS_ENDPOINT_URL).toBe("http://localstack:4566");
    const aws = loadConfig({ AWS_ENDPOINT_URL: "", LAMBDA_ENDPOINT_URL: "http://localstack:4566" });
    expect(functionEnvironment(aws).AWS_ENDPOINT_URL).toBeUndefined();
  });

  it("asks for a queue visibility timeout of six function timeouts, naming both variables", () => {
    expect(visibilityProblem(loadConfig({}))).toBeUndefined(); // the defaults fit: 120 s ≥ 6 × 20 s
    expect(visibilityProblem(loadConfig({ LAMBDA_TIMEOUT_SECONDS: "30" }))).toMatch(
      /VISIBILITY_TIMEOUT_SECONDS=120 is less than 6 × LAMBDA_TIMEOUT_SECONDS=30 \(180\).*VISIBILITY_TIMEOUT_SECONDS=180/,
    );
  });

  it.each([
    ["LAMBDA_ARCH", "x86"],
    ["LAMBDA_MEMORY_MB", "64"],
    ["LAMBDA_TIMEOUT_SECONDS", "901"],
    ["LAMBDA_BATCH_SIZE", "11"],
    ["LAMBDA_MAX_CONCURRENCY", "1"],
    ["LOG_RETENTION_DAYS", "10"],
    ["LAMBDA_ROLE_ARN", "LabRole"],
  ])("stops on a bad %s with a message naming it", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
