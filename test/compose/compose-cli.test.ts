// A second opinion from a real Compose implementation, when this machine has one: `config` needs
// no engine. It resolves the file as `docker compose up` would, with a .env beside it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { withoutPipelineSettings } from "../hermetic-env.ts";
import { skipUnlessSupported } from "../skip.ts";
import { COMPOSE_FILE, type ComposeService } from "./repo.ts";

type Cli = { command: string; args: string[]; v1: boolean };

function findCli(): Cli | undefined {
  const candidates: Cli[] = [
    { command: "docker", args: ["compose"], v1: false },
    // Debian's docker-compose 1.29 (apt-get install docker-compose).
    { command: "docker-compose", args: [], v1: true },
  ];
  return candidates.find((cli) => {
    try {
      execFileSync(cli.command, [...cli.args, "version"], { stdio: "ignore", timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  });
}

const cli = findCli();
const noCli = cli ? undefined : "no Compose CLI on this machine (`docker compose`, or Debian's docker-compose)";
const dir = mkdtempSync(path.join(tmpdir(), "compose-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function resolve(dotenv: string): { services: Record<string, ComposeService> } {
  if (!cli) throw new Error("no compose CLI");
  let text = readFileSync(COMPOSE_FILE, "utf8");
  // Compose v1 predates the top-level `name`; everything else it checks like v2.
  if (cli.v1) text = text.replace(/^name: .*$/m, "");
  writeFileSync(path.join(dir, "docker-compose.yml"), text);
  writeFileSync(path.join(dir, ".env"), dotenv);
  // The shell's variables win over .env in Compose: none of the user's may reach it.
  const out = execFileSync(cli.command, [...cli.args, "config"], {
    cwd: dir,
    env: withoutPipelineSettings(process.env),
    encoding: "utf8",
    timeout: 30_000,
  });
  return parse(out);
}

function environment(service: ComposeService | undefined): Record<string, string | null> {
  return (service?.environment ?? {}) as Record<string, string | null>;
}

/** "127.0.0.1:8080:8080/tcp" (v1) or { host_ip, published, target } (v2) → "127.0.0.1:8080:8080". */
function ports(service: ComposeService | undefined): string[] {
  return (service?.ports ?? []).map((p) =>
    typeof p === "string" ? p.replace(/\/tcp$/, "") : `${p.host_ip}:${p.published}:${p.target}`,
  );
}

describe("docker-compose.yml through a Compose CLI", () => {
  it("resolves with no .env settings to the pinned LocalStack on 127.0.0.1:4566 and the gallery on 8080", (ctx) => {
    skipUnlessSupported(ctx, noCli);
    const { services } = resolve("");
    expect(services.localstack?.image).toBe("localstack/localstack:4.14.0");
    expect(ports(services.localstack)).toEqual(["127.0.0.1:4566:4566"]);
    expect(ports(services.web)).toEqual(["127.0.0.1:8080:8080"]);
    const env = environment(services.worker);
    expect(env.AWS_ENDPOINT_URL).toBe("http://localstack:4566");
    // Unset on the host: no value reaches the container (src/config.ts defaults apply).
    expect(env.NAME_PREFIX ?? undefined).toBeUndefined();
  });

  it("takes the image, token, gallery port and pipeline settings from .env, as the host's commands do", (ctx) => {
    skipUnlessSupported(ctx, noCli);
    const { services } = resolve(
      "NAME_PREFIX=demo\nLOCALSTACK_AUTH_TOKEN=secret\nWEB_PORT=8081\nLOCALSTACK_IMAGE=localstack/localstack:4.15.0\n",
    );
    expect(services.localstack?.image).toBe("localstack/localstack:4.15.0");
    expect(environment(services.localstack).LOCALSTACK_AUTH_TOKEN).toBe("secret");
    expect(ports(services.web)).toEqual(["127.0.0.1:8081:8080"]);
    for (const name of ["bootstrap", "worker", "web"]) {
      expect(environment(services[name]).NAME_PREFIX, name).toBe("demo");
    }
  });
});
