import { readFileSync } from "node:fs";
import dotenv from "dotenv";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, loadConfig } from "../../src/config.ts";
import { ConfigError } from "../../src/errors.ts";

describe("loadConfig", () => {
  it("defaults to the local endpoint with test credentials and the ImageMetadata table", () => {
    const config = loadConfig({});
    expect(config.target).toEqual({ kind: "emulator", endpoint: "http://localhost:4566" });
    expect(config.credentials).toEqual({ accessKeyId: "test", secretAccessKey: "test" });
    expect(config.names.table).toBe("ImageMetadata");
    expect(config.names.uploadsBucket).toBe("image-pipeline-uploads");
    expect(config.thumbnails.sizes).toEqual([128, 512]);
    expect(config.uploadPrefix).toBe("uploads/");
  });

  it("targets real AWS with the default credential chain when the endpoint override is empty", () => {
    const config = loadConfig({ AWS_ENDPOINT_URL: "", AWS_REGION: "eu-west-1" });
    expect(config.target).toEqual({ kind: "aws" });
    expect(config.credentials).toBeUndefined();
  });

  it("targets real AWS on Lambda, where no endpoint is set", () => {
    expect(loadConfig({ AWS_LAMBDA_FUNCTION_NAME: "thumbnailer" }).target).toEqual({ kind: "aws" });
  });

  it("parses, deduplicates and sorts thumbnail sizes", () => {
    expect(loadConfig({ THUMBNAIL_SIZES: "512, 128,256,128" }).thumbnails.sizes).toEqual([128, 256, 512]);
  });

  it.each([
    ["THUMBNAIL_SIZES", "128,big"],
    ["THUMBNAIL_FORMAT", "bmp"],
    ["NAME_PREFIX", "Has_Capitals"],
    ["AWS_ENDPOINT_URL", "localhost:4566"],
    ["MAX_IMAGE_PIXELS", "-1"],
    ["WORKER_BATCH_SIZE", "11"],
    ["AWS_REGION", "mars"],
  ])("stops on a bad %s with a message naming the variable", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it("treats an empty variable as unset (except the endpoint)", () => {
    expect(loadConfig({ THUMBNAIL_FORMAT: "" }).thumbnails.format).toBe("jpeg");
  });
});

describe(".env.example", () => {
  const text = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");

  it("documents every variable the config reads", () => {
    const documented = new Set([...text.matchAll(/^#?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(CONFIG_VARIABLES.filter((name) => !documented.has(name))).toEqual([]);
  });

  it("is a valid configuration as it stands", () => {
    expect(loadConfig(dotenv.parse(text)).target).toEqual({ kind: "emulator", endpoint: "http://localhost:4566" });
  });
});
