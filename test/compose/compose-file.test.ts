// docker-compose.yml, checked without a Docker engine: the Compose Specification's JSON schema
// (as shipped by dclint) plus what this pipeline needs from it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DCLinter } from "dclint";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, DEFAULT_ENDPOINT } from "../../src/config.ts";
import { LOCALSTACK_SERVICES, PINNED_LOCALSTACK_IMAGE } from "../localstack.ts";
import {
  COMPOSE_FILE,
  type ComposeService,
  dockerfileCopies,
  environmentOf,
  interpolation,
  loadCompose,
  packageJson,
  scriptEntry,
} from "./repo.ts";

function lint(file: string) {
  const linter = new DCLinter({
    rules: {
      // Services are listed in start-up order (localstack → bootstrap → worker, web), not A to Z.
      "services-alphabetical-order": 0,
      "require-quotes-in-ports": [2, { quoteType: "double" }],
    },
    quiet: false,
    debug: false,
    exclude: [],
  });
  const [result] = linter.lintFiles([file], false);
  const messages: { line: number; rule: string; message: string }[] = result?.messages ?? [];
  return messages.map((m) => `${m.line}: ${m.rule}: ${m.message}`);
}

const compose = loadCompose();
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
};
const APP_SERVICES = ["bootstrap", "worker", "web"] as const;

describe("docker-compose.yml", () => {
  it("is valid against the Compose Specification schema and breaks none of dclint's rules", () => {
    expect(lint(COMPOSE_FILE)).toEqual([]);
  });

  it("would be rejected by the same check if it broke the schema", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "compose-"));
    try {
      const bad = path.join(dir, "docker-compose.yml");
      writeFileSync(bad, "services:\n  web:\n    depends_on:\n      db:\n        condition: when_ready\n");
      expect(lint(bad).join("\n")).toMatch(/invalid-schema/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("has exactly the LocalStack, bootstrap, worker and web services", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["bootstrap", "localstack", "web", "worker"]);
  });

  it("pins LocalStack to the test suite's image, overridable with LOCALSTACK_IMAGE", () => {
    expect(interpolation(service("localstack").image ?? "")).toEqual({
      name: "LOCALSTACK_IMAGE",
      fallback: PINNED_LOCALSTACK_IMAGE,
    });
  });

  it("passes LOCALSTACK_AUTH_TOKEN through only when it is set, and starts only the services we use", () => {
    const env = environmentOf(service("localstack"));
    // A bare name: compose copies the host's value (shell or .env) and leaves it out when unset.
    expect(env.has("LOCALSTACK_AUTH_TOKEN")).toBe(true);
    expect(env.get("LOCALSTACK_AUTH_TOKEN")).toBeUndefined();
    expect(env.get("SERVICES")?.split(",").sort()).toEqual([...LOCALSTACK_SERVICES].sort());
  });

  it("health-checks LocalStack on /_localstack/health and bootstraps only once it is healthy", () => {
    const test = service("localstack").healthcheck?.test;
    expect([test].flat().join(" ")).toMatch(/http:\/\/localhost:4566\/_localstack\/health/);
    expect(service("bootstrap").depends_on).toEqual({ localstack: { condition: "service_healthy" } });
  });

  it("starts the worker and the gallery only after bootstrap completed successfully", () => {
    for (const name of ["worker", "web"]) {
      expect(service(name).depends_on, name).toEqual({ bootstrap: { condition: "service_completed_successfully" } });
    }
  });

  it("publishes LocalStack on the host port the host's commands use by default, and everything on 127.0.0.1 only", () => {
    const published = Object.entries(compose.services).flatMap(([name, s]) =>
      (s.ports ?? []).map((port) => ({ name, port: String(port) })),
    );
    for (const { name, port } of published) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    expect(service("localstack").ports).toEqual([`127.0.0.1:${new URL(DEFAULT_ENDPOINT).port}:4566`]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's own interpolation, compared as written.
    expect(service("web").ports).toEqual(["127.0.0.1:${WEB_PORT:-8080}:8080"]);
    expect(environmentOf(service("web")).get("WEB_PORT")).toBe("8080");
    // The config's default host, 127.0.0.1, would be the container's own loopback: unreachable.
    expect(environmentOf(service("web")).get("WEB_HOST")).toBe("0.0.0.0");
  });

  it("lets the worker scale: no container name and no published port", () => {
    expect(service("worker").container_name).toBeUndefined();
    expect(service("worker").ports).toBeUndefined();
  });

  it("runs every app service as an npm script on the image built from the Dockerfile", () => {
    const copied = dockerfileCopies()
      .filter((c) => c.stage === "runtime" && c.from === undefined)
      .flatMap((c) => c.sources);
    for (const name of APP_SERVICES) {
      const s = service(name);
      expect(s.build, name).toBe(".");
      const command = [s.command].flat();
      expect(command.slice(0, 2), name).toEqual(["npm", "run"]);
      const script = packageJson.scripts[command[2] ?? ""];
      expect(script, `package.json script for ${name}`).toBeDefined();
      // The entry file must be inside what the image copies.
      const entry = scriptEntry(script ?? "") ?? "";
      expect(entry, `${name}: ${script}`).not.toBe("");
      expect(
        copied.some((src) => entry === src || entry.startsWith(`${src}/`)),
        `${entry} is copied into the image`,
      ).toBe(true);
      // tini: npm is not written to be PID 1, and SIGTERM must reach the worker to drain it.
      expect(s.init, name).toBe(true);
    }
  });

  it("points the app services at LocalStack by service name and passes through only variables the config reads", () => {
    for (const name of APP_SERVICES) {
      const env = environmentOf(service(name));
      expect(env.get("AWS_ENDPOINT_URL"), name).toBe("http://localstack:4566");
      const unknown = [...env.keys()].filter((key) => !CONFIG_VARIABLES.includes(key));
      expect(unknown, `${name}: variables src/config.ts does not read`).toEqual([]);
      // Credentials stay out: LocalStack takes the config's test/test, and a real key in .env must not leak in.
      expect(env.has("AWS_ACCESS_KEY_ID") || env.has("AWS_SECRET_ACCESS_KEY"), name).toBe(false);
    }
  });

  it("gives the host's seed and status commands the same resource names as the containers", () => {
    // Anything that names a resource must come from the same .env on both sides.
    const env = environmentOf(service("worker"));
    for (const name of ["AWS_REGION", "NAME_PREFIX", "TABLE_NAME", "UPLOAD_PREFIX"]) {
      expect(env.has(name), name).toBe(true);
      expect(env.get(name), `${name} is passed through, not fixed`).toBeUndefined();
    }
  });
});
