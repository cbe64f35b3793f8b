// Reads docker-compose.yml, the Dockerfile and package.json as Docker would see them, without an engine.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { parse } from "yaml";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const COMPOSE_FILE = path.join(ROOT, "docker-compose.yml");
export const DOCKERFILE = path.join(ROOT, "Dockerfile");

export function read(file: string): string {
  return readFileSync(path.join(ROOT, file), "utf8");
}

export interface PackageJson {
  version: string;
  engines?: Record<string, string>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

export const packageJson = JSON.parse(read("package.json")) as PackageJson;

/**
 * The entry file an npm script runs: "exec node [node flags] --import tsx worker/index.ts" (a
 * long-running process) or "tsx [node flags] bootstrap/index.ts" → the path; undefined otherwise.
 */
export function scriptEntry(script: string): string | undefined {
  return /^(?:exec )?(?:node|tsx)(?: --import tsx| --\S+)* (\S+)$/.exec(script)?.[1];
}

export interface ComposeService {
  image?: string;
  build?: string | { context?: string };
  command?: string[] | string;
  environment?: string[] | Record<string, string | null>;
  ports?: (string | { host_ip?: string; published?: string | number; target?: number })[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] | string };
  container_name?: string;
  restart?: string;
  init?: boolean;
}

/** The compose file with YAML anchors resolved, but `${VAR:-default}` left as written. */
export function loadCompose(): { name?: string; services: Record<string, ComposeService> } {
  return parse(read("docker-compose.yml"), { merge: true });
}

/** Environment as compose passes it: `KEY=value`, or `KEY` alone (the host's value, when set). */
export function environmentOf(service: ComposeService): Map<string, string | undefined> {
  const env = service.environment ?? [];
  if (!Array.isArray(env)) return new Map(Object.entries(env).map(([k, v]) => [k, v ?? undefined]));
  return new Map(
    env.map((entry) => {
      const at = entry.indexOf("=");
      return at < 0 ? [entry, undefined] : [entry.slice(0, at), entry.slice(at + 1)];
    }),
  );
}

/** `${NAME:-fallback}` → { name, fallback }; anything else → undefined. */
export function interpolation(value: string): { name: string; fallback: string } | undefined {
  const match = /^\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}$/.exec(value);
  return match?.[1] && match[2] !== undefined ? { name: match[1], fallback: match[2] } : undefined;
}

export interface Copy {
  stage: string;
  from: string | undefined;
  sources: string[];
  destination: string;
}

/** Every COPY of the Dockerfile, with the stage it belongs to. */
export function dockerfileCopies(text = read("Dockerfile")): Copy[] {
  const dockerfile = DockerfileParser.parse(text);
  const stages = dockerfile.getFROMs();
  return dockerfile.getCOPYs().map((copy) => {
    const line = copy.getRange().start.line;
    const stage = stages.filter((from) => from.getRange().start.line < line).at(-1);
    const args = copy.getArguments().map((a) => a.getValue());
    return {
      stage: stage?.getBuildStage() ?? "",
      from: copy.getFromFlag()?.getValue() ?? undefined,
      sources: args.slice(0, -1),
      destination: args.at(-1) ?? "",
    };
  });
}

/** Whether .dockerignore keeps a path out of the build context (globs from the context root). */
export function dockerignored(file: string): boolean {
  if (!existsSync(path.join(ROOT, ".dockerignore"))) return false;
  const patterns = read(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const normalized = path.posix.normalize(file).replace(/^\.\//, "").replace(/\/$/, "");
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    const glob = (negated ? pattern.slice(1) : pattern).replace(/^\//, "").replace(/\/$/, "");
    // Docker's rule: a pattern excludes the path itself and everything under it; the last match wins.
    const hit = [normalized, ...ancestors(normalized)].some((p) => path.matchesGlob(p, glob));
    if (hit) ignored = !negated;
  }
  return ignored;
}

function ancestors(file: string): string[] {
  const out: string[] = [];
  for (let dir = path.posix.dirname(file); dir !== "." && dir !== "/"; dir = path.posix.dirname(dir)) out.push(dir);
  return out;
}
