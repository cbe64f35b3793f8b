// Builds the Lambda deployment zip: the handler bundled by esbuild, plus sharp with the
// Linux binaries of the function's architecture, installed by npm for that platform.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { type Zippable, zipSync } from "fflate";
import type { LambdaArchitecture } from "../../config.ts";

const run = promisify(execFile);

const PROJECT_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Lambda refuses a zip uploaded directly above 50 MB, or one that unpacks to more than 250 MB. */
export const LAMBDA_LIMITS = { zippedBytes: 50 * 1024 ** 2, unzippedBytes: 250 * 1024 ** 2 } as const;

export const BUNDLE_FILE = "lambda.mjs";

/** npm's name for each Lambda architecture. */
export const NPM_CPU: Record<LambdaArchitecture, string> = { x86_64: "x64", arm64: "arm64" };

export interface LambdaPackage {
  architecture: LambdaArchitecture;
  path: string;
  zip: Uint8Array;
  /** Base64 SHA-256 of the zip: what Lambda reports as CodeSha256, so re-deploys compare it. */
  sha256: string;
  zippedBytes: number;
  unzippedBytes: number;
  /** Paths inside the zip, sorted. */
  files: string[];
  sharpVersion: string;
  /** npm packages esbuild inlined into the bundle. */
  bundledPackages: string[];
}

export interface BuildOptions {
  architecture: LambdaArchitecture;
  /** Where the zip is written (default: dist/ in the project). */
  outDir?: string;
  projectRoot?: string;
}

/**
 * Deterministic: the same sources give a byte-identical zip (sorted entries, fixed times),
 * so a re-deploy compares hashes and uploads nothing when nothing changed.
 */
export async function buildLambdaPackage(options: BuildOptions): Promise<LambdaPackage> {
  const root = options.projectRoot ?? PROJECT_ROOT;
  const outDir = options.outDir ?? path.join(root, "dist");
  const sharpVersion = installedSharpVersion(root);

  const [bundle, sharpFiles] = await Promise.all([bundleHandler(root), linuxSharp(sharpVersion, options.architecture)]);

  const entries: [string, Uint8Array][] = [[BUNDLE_FILE, bundle.code], ...sharpFiles];
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const zippable: Zippable = {};
  for (const [name, data] of entries) zippable[name] = [data, ENTRY_OPTIONS];
  const zip = zipSync(zippable, { level: 9 });

  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, `lambda-${options.architecture}.zip`);
  await writeFile(file, zip);
  return {
    architecture: options.architecture,
    path: file,
    zip,
    sha256: createHash("sha256").update(zip).digest("base64"),
    zippedBytes: zip.length,
    unzippedBytes: entries.reduce((sum, [, data]) => sum + data.length, 0),
    files: entries.map(([name]) => name),
    sharpVersion,
    bundledPackages: bundle.packages,
  };
}

// DOS timestamps are local time: a local date gives the same bytes in every time zone.
// Unix mode 0644 (regular file): Lambda's runtime user must be able to read every file.
const ENTRY_OPTIONS = { mtime: new Date(1980, 0, 2), os: 3, attrs: 0o100644 * 0x10000 };

/** The version the project itself runs, so that Lambda runs what the tests ran. */
function installedSharpVersion(root: string): string {
  // sharp's exports do not include package.json: walk up from its entry point instead.
  let dir = path.dirname(createRequire(path.join(root, "package.json")).resolve("sharp"));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
        name?: string;
        version: string;
      };
      if (pkg.name === "sharp") return pkg.version;
    } catch {
      // no package.json at this level
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("sharp is not installed: run npm install");
    dir = parent;
  }
}

async function bundleHandler(root: string): Promise<{ code: Uint8Array; packages: string[] }> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ["src/pipeline/lambda.ts"],
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    // sharp loads a native addon for the platform: it ships beside the bundle, not inside it.
    external: ["sharp"],
    // CommonJS dependencies (parts of the AWS SDK) call require() for Node built-ins, and
    // libheif-js (HEIC; Emscripten output, its WebAssembly inlined as base64) reads
    // __dirname: an ES module has neither.
    banner: {
      js: [
        'import { createRequire as __createRequire } from "node:module";',
        "const require = __createRequire(import.meta.url);",
        "const __filename = import.meta.filename;",
        "const __dirname = import.meta.dirname;",
      ].join("\n"),
    },
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: "none",
    metafile: true,
    write: false,
    logLevel: "silent",
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error("esbuild produced no output");
  const packages = new Set<string>();
  for (const input of Object.keys(result.metafile.inputs)) {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1]) packages.add(match[1]);
  }
  return { code: output.contents, packages: [...packages].sort() };
}

/** Files that serve no purpose at run time: types, docs, C++ sources, build scripts. */
const NOT_NEEDED = [
  /\.d\.[cm]?ts$/,
  /\.(md|markdown|map|cc|cpp|h|gyp)$/i,
  /(^|\/)(test|tests|__tests__|docs?|examples?|\.github)\//,
  /^sharp\/(src|install|lib)\//,
  /^semver\/bin\//,
  /^\.package-lock\.json$/,
];

/**
 * sharp and its dependencies as npm installs them on Linux with glibc for this CPU, in a
 * throwaway directory: the host's own node_modules has the host's binaries.
 */
async function linuxSharp(version: string, architecture: LambdaArchitecture): Promise<[string, Uint8Array][]> {
  const dir = await mkdtemp(path.join(tmpdir(), "lambda-sharp-"));
  try {
    await writeFile(path.join(dir, "package.json"), '{ "private": true }\n');
    const args = [
      "install",
      `sharp@${version}`,
      "--os=linux",
      `--cpu=${NPM_CPU[architecture]}`,
      "--libc=glibc",
      "--omit=dev",
      // sharp's install script only builds from source when no prebuilt binary fits.
      "--ignore-scripts",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
    ];
    try {
      // npm retries a failing registry for minutes; give up before the user does.
      await run("npm", args, { cwd: dir, maxBuffer: 16 * 1024 ** 2, timeout: 180_000 });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? "";
      throw new Error(`npm ${args.join(" ")} failed:\n${stderr.trim()}`);
    }
    const modules = path.join(dir, "node_modules");
    const files: [string, Uint8Array][] = [];
    for (const relative of await listFiles(modules)) {
      if (NOT_NEEDED.some((pattern) => pattern.test(relative))) continue;
      files.push([`node_modules/${relative}`, await readFile(path.join(modules, relative))]);
    }
    const binary = `node_modules/@img/sharp-linux-${NPM_CPU[architecture]}/package.json`;
    if (!files.some(([name]) => name === binary)) {
      throw new Error(`npm did not install sharp's binaries for linux-${NPM_CPU[architecture]}`);
    }
    return files;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(path.join(dir, entry.name), relative)));
    // Symbolic links (node_modules/.bin) are left out: only commands use them.
    else if (entry.isFile()) out.push(relative);
  }
  return out;
}

export function formatSize(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}
