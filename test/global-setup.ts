import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { loadConfig } from "../src/config.ts";
import { startEmbeddedStack } from "../src/embedded/stack.ts";
import { silentLogger } from "../src/logger.ts";
import { clearPipelineSettings } from "./hermetic-env.ts";
import { LOCALSTACK_SERVICES, PINNED_LOCALSTACK_IMAGE } from "./localstack.ts";

// The only settings a test run takes from the shell: which backend (AWS_ENDPOINT_URL) and which
// LocalStack. Read here, then cleared with every other pipeline variable before any test starts.
const EXTERNAL_ENDPOINT = process.env.AWS_ENDPOINT_URL;
/** The pinned image unless LOCALSTACK_IMAGE names another (newer ones need LOCALSTACK_AUTH_TOKEN). */
const LOCALSTACK_IMAGE = process.env.LOCALSTACK_IMAGE || PINNED_LOCALSTACK_IMAGE;
const LOCALSTACK_AUTH_TOKEN = process.env.LOCALSTACK_AUTH_TOKEN;
clearPipelineSettings(process.env);

export type Backend = "embedded" | "localstack" | "external";

declare module "vitest" {
  export interface ProvidedContext {
    endpoint: string;
    backend: Backend;
    /** WEB_PORT of the test config: the port of the one gallery a browser test opens (CORS). */
    galleryPort: number;
  }
}

/**
 * Chooses what the integration tests run against, once for the whole run (the user's other
 * pipeline settings are cleared by then: see clearPipelineSettings):
 * AWS_ENDPOINT_URL set → that endpoint; a Docker engine → LocalStack via testcontainers;
 * otherwise → the embedded stack on a free port.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The stack (and bootstrap's bucket CORS) allow browsers only from the gallery's origins,
  // which derive from WEB_PORT: the browser tests serve their gallery on this port.
  const galleryPort = await freePort();
  project.provide("galleryPort", galleryPort);
  const external = EXTERNAL_ENDPOINT;
  if (external) {
    report("external", external, "AWS_ENDPOINT_URL is set");
    project.provide("endpoint", external);
    project.provide("backend", "external");
    return async () => {};
  }

  const docker = await dockerAvailable();
  if (docker.ok) {
    const { LocalstackContainer } = await import("@testcontainers/localstack");
    const container = await new LocalstackContainer(LOCALSTACK_IMAGE)
      .withEnvironment({
        SERVICES: LOCALSTACK_SERVICES.join(","),
        ...(LOCALSTACK_AUTH_TOKEN && { LOCALSTACK_AUTH_TOKEN }),
      })
      .start();
    const endpoint = container.getConnectionUri();
    report("localstack", endpoint, `Docker engine found; ${LOCALSTACK_IMAGE}`);
    project.provide("endpoint", endpoint);
    project.provide("backend", "localstack");
    return async () => {
      await container.stop();
    };
  }

  const dataDir = mkdtempSync(path.join(tmpdir(), "pipeline-test-"));
  const stack = await startEmbeddedStack({
    port: 0,
    host: "127.0.0.1",
    region: "us-east-1",
    dataDir,
    logger: silentLogger,
    allowedOrigins: loadConfig({ WEB_PORT: String(galleryPort) }).corsAllowedOrigins,
  });
  report("embedded", stack.endpoint, `no Docker engine (${docker.reason})`);
  project.provide("endpoint", stack.endpoint);
  project.provide("backend", "embedded");
  return async () => {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function dockerAvailable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: (error as Error).message.split("\n")[0] ?? "unavailable" };
  }
}

function report(backend: Backend, endpoint: string, why: string): void {
  process.stdout.write(`\n[test backend] ${backend} at ${endpoint} (${why})\n\n`);
}
