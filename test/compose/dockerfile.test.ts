// The Dockerfile, checked without a Docker engine: syntax, paths against the repository, and
// that `npm ci --omit=dev` leaves everything the services' code imports at run time.
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";
import { dockerfileCopies, dockerignored, loadCompose, packageJson, ROOT, read, scriptEntry } from "./repo.ts";

const text = read("Dockerfile");
const dockerfile = DockerfileParser.parse(text);
const copies = dockerfileCopies(text);
/** What the final image gets from the build context. */
const copiedFromContext = copies.filter((c) => c.stage === "runtime" && c.from === undefined).flatMap((c) => c.sources);

function problems(content: string): string[] {
  return validate(content).map((d) => `${d.range.start.line + 1}: ${d.message}`);
}

describe("Dockerfile", () => {
  it("has no syntax or instruction problems", () => {
    expect(problems(text)).toEqual([]);
  });

  it("would be flagged by the same check if it had one", () => {
    expect(problems("FROM node:24-slim\nCOPY onlyone\nEXPOSE port\n").length).toBeGreaterThan(0);
  });

  it("builds in two stages on a Debian slim Node image of the major version package.json requires", () => {
    expect(dockerfile.getFROMs().map((f) => f.getBuildStage())).toEqual(["deps", "runtime"]);
    const base = dockerfile
      .getARGs()
      .map((a) => a.getProperty())
      .find((p) => p?.getName() === "NODE_IMAGE")
      ?.getValue();
    const major = /^node:(\d+)-(?:\w+-)?slim$/.exec(base ?? "")?.[1];
    expect(base, "ARG NODE_IMAGE").toMatch(/^node:\d+-(\w+-)?slim$/);
    expect(packageJson.engines?.node).toBe(`>=${major}`);
    // The `node` devDependency is the project's Node for laptops; the image must run the same major.
    expect(packageJson.devDependencies.node).toMatch(new RegExp(`^\\^${major}\\.`));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Docker's own interpolation, compared as written.
    for (const from of dockerfile.getFROMs()) expect(from.getImage()).toBe("${NODE_IMAGE}");
  });

  it("installs production dependencies from the lockfile and runs as the unprivileged node user", () => {
    const runs = dockerfile.getInstructions().filter((i) => i.getKeyword() === "RUN");
    expect(runs.map((r) => r.getArgumentsContent()).join("\n")).toMatch(/npm ci --omit=dev\b/);
    const users = dockerfile.getInstructions().filter((i) => i.getKeyword() === "USER");
    expect(users.at(-1)?.getArgumentsContent()).toBe("node");
    // The lockfile goes in with package.json, so `npm ci` installs exactly what was tested.
    expect(copies.find((c) => c.stage === "deps")?.sources).toEqual(["package.json", "package-lock.json"]);
  });

  it("runs npm scripts through bash, which hands SIGTERM on to the worker instead of dying in between", () => {
    // Found by running `npm run worker` on the image's contents and sending npm SIGTERM: with dash,
    // npm exited and the worker kept running without the signal, to be killed mid-image later.
    const env = dockerfile.getENVs().flatMap((e) => e.getProperties().map((p) => [p.getName(), p.getValue()]));
    expect(env).toContainEqual(["NPM_CONFIG_SCRIPT_SHELL", "/bin/bash"]);
  });

  it("copies only paths that exist in the repository and that .dockerignore lets through", () => {
    const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
    expect(fromContext.length).toBeGreaterThan(0);
    for (const source of fromContext) {
      expect(existsSync(path.join(ROOT, source)), `${source} exists`).toBe(true);
      expect(dockerignored(source), `${source} is not in .dockerignore`).toBe(false);
    }
    // COPY --from names a stage of this Dockerfile, not an image to pull.
    const stages = dockerfile.getFROMs().map((f) => f.getBuildStage());
    for (const copy of copies.filter((c) => c.from !== undefined)) expect(stages).toContain(copy.from);
  });

  it("keeps secrets, local state and the host's node_modules out of the build context", () => {
    // node_modules from a Mac would carry darwin binaries of sharp into a Linux image.
    for (const file of [".env", ".env.local", ".git", "node_modules", ".data", "test"]) {
      expect(dockerignored(file), file).toBe(true);
    }
  });

  it("loads at run time nothing that `npm ci --omit=dev` leaves out, from every service's entry file", () => {
    const runtime = new Set([...Object.keys(packageJson.dependencies), ...builtinModules]);
    const { files, packages } = importGraph(serviceEntries());
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      expect(
        copiedFromContext.some((src) => file === src || file.startsWith(`${src}/`)),
        `${file} is copied into the image`,
      ).toBe(true);
    }
    const missing = packages.filter(({ name }) => !runtime.has(name)).map((p) => `${p.file}: ${p.specifier}`);
    expect(missing, "imports of packages that are not production dependencies").toEqual([]);
  });

  it("has sharp's and esbuild's Linux binaries for both x64 and arm64 hosts in the lockfile", () => {
    // `npm ci` inside the image installs the optional package for the image's own platform; it can
    // only do so if the lockfile lists it, whatever platform generated the lockfile.
    const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, unknown> };
    for (const arch of ["x64", "arm64"]) {
      for (const pkg of [`@img/sharp-linux-${arch}`, `@img/sharp-libvips-linux-${arch}`, `@esbuild/linux-${arch}`]) {
        expect(lock.packages[`node_modules/${pkg}`], pkg).toBeDefined();
      }
    }
  });
});

/** The entry files of the compose services' npm scripts (see scriptEntry). */
function serviceEntries(): string[] {
  const commands = Object.values(loadCompose().services).flatMap((s) => (s.build ? [[s.command].flat()] : []));
  return commands.map((command) => {
    const script = packageJson.scripts[command[2] ?? ""] ?? "";
    return scriptEntry(script) ?? script;
  });
}

/** Every repository file reachable from the entries through imports, and the packages they load. */
function importGraph(entries: string[]) {
  const files = new Set<string>();
  const packages: { file: string; specifier: string; name: string }[] = [];
  const queue = [...entries];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of runtimeImports(readFileSync(path.join(ROOT, file), "utf8"))) {
      if (specifier.startsWith(".")) {
        queue.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)));
      } else if (!specifier.startsWith("node:")) {
        const parts = specifier.split("/");
        const name = (specifier.startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1)).join("/");
        packages.push({ file, specifier, name });
      }
    }
  }
  return { files: [...files].sort(), packages };
}

/** Module specifiers loaded at run time: static imports and re-exports that are not type-only, and import(). */
function runtimeImports(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*["']([^"']+)["']/gms)) {
    if (!m[2] && m[4]) out.push(m[4]);
  }
  for (const m of code.matchAll(/^\s*import\s*["']([^"']+)["']/gm)) if (m[1]) out.push(m[1]);
  for (const m of code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) if (m[1]) out.push(m[1]);
  return out;
}
