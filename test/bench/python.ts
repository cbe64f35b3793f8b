// The original project's Python code, as the benchmark runs it: Debian's /usr/bin/python3
// (python3-pil supplies Pillow) with the site-packages of the `python3` on PATH (boto3).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** `../shared/bench/<name>` beside the repository, as on the development machines. */
export function sharedBenchScript(name: string): string {
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  return path.resolve(repo, "..", "shared", "bench", name);
}

export interface PythonCommand {
  python: string;
  script: string;
  env: Record<string, string>;
}

/**
 * Checks that `script` can run: it exists, and `python` imports Pillow (and boto3 ≥ 1.34
 * when `needsBoto3`: SQS speaks JSON from boto3 1.34 on, and the embedded stack has no
 * query protocol). Returns the command, or why it cannot run.
 */
export function findPython(
  script: string,
  { python = "/usr/bin/python3", needsBoto3 = false }: { python?: string; needsBoto3?: boolean } = {},
): PythonCommand | { notRun: string } {
  if (!existsSync(script)) return { notRun: `${script} not found` };
  if (!existsSync(python)) return { notRun: `${python} not found` };
  const env: Record<string, string> = {};
  if (needsBoto3) {
    const sitePackages = boto3SitePackages();
    if (sitePackages) env.PYTHONPATH = sitePackages;
  }
  const probe = spawnSync(
    python,
    ["-c", needsBoto3 ? "import PIL, boto3; print(boto3.__version__)" : "import PIL; print(PIL.__version__)"],
    { encoding: "utf8", env: { ...process.env, ...env } },
  );
  if (probe.status !== 0) {
    const last = probe.stderr.trim().split("\n").at(-1) ?? "";
    return {
      notRun: `${python} cannot import ${needsBoto3 ? "PIL and boto3" : "PIL"}: ${last || probe.error?.message || "failed"}${needsBoto3 ? " (Pillow: apt-get install python3-pil; boto3 ≥ 1.34: pip install boto3 for the python3 on PATH)" : " (apt-get install python3-pil)"}`,
    };
  }
  if (needsBoto3) {
    const [major = 0, minor = 0] = probe.stdout.trim().split(".").map(Number);
    if (major < 1 || (major === 1 && minor < 34)) {
      return { notRun: `boto3 ${probe.stdout.trim()} is too old: the SQS JSON protocol needs boto3 ≥ 1.34` };
    }
  }
  return { python, script, env };
}

/** site-packages of the `python3` on PATH, if it has boto3 (Debian's python3-boto3 is too old). */
function boto3SitePackages(): string | undefined {
  try {
    return (
      execFileSync("python3", ["-c", "import boto3, os; print(os.path.dirname(os.path.dirname(boto3.__file__)))"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}
