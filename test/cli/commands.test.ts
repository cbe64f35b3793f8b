import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { COMMANDS, ROOT } from "../../src/cli/commands.ts";
import { packageJson, scriptEntry } from "../compose/repo.ts";

/** npm scripts that are the project's own tooling, not commands of the pipeline. */
const TOOLING = ["test", "lint", "format", "format:check", "typecheck", "check", "pipeline"];

/** `npm run pipeline -- <args>` without npm: the same module, the same Node. */
function pipeline(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
  });
}

describe("one program: npm run pipeline -- <command>", () => {
  it("has exactly the npm scripts as subcommands, each running the module its script runs", () => {
    const scripts = Object.keys(packageJson.scripts).filter((name) => !TOOLING.includes(name));
    expect(Object.keys(COMMANDS).sort()).toEqual(scripts.sort());
    for (const [name, [module]] of Object.entries(COMMANDS)) {
      expect(scriptEntry(packageJson.scripts[name] ?? ""), name).toBe(module);
    }
  });

  it("--help lists every command and exits 0, starting nothing", () => {
    const run = pipeline("--help");
    expect(run.status).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(run.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
  });

  it("--version prints the project's version from package.json and exits 0", () => {
    const run = pipeline("--version");
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(packageJson.version);
  });

  it("hands the rest of the line to the command: `images list --help` is the images CLI's own usage", () => {
    const run = pipeline("images", "list", "--help");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: npm run images -- list \[options\]/);
  });

  it("exits 2 with a one-line reason for an unknown command, and lists the commands when none is given", () => {
    const unknown = pipeline("thumbnail");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown command 'thumbnail'/);
    const none = pipeline();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^Usage: npm run pipeline -- <command>/);
  });

  it("help <command> is <command> --help; help alone lists the commands", () => {
    const images = pipeline("help", "images");
    expect(images.status).toBe(0);
    expect(images.stdout).toMatch(/^Usage: npm run images -- \[options\] \[command\]/);
    const alone = pipeline("help");
    expect(alone.status).toBe(0);
    expect(alone.stdout).toMatch(/^Usage: npm run pipeline -- <command>/);
    const unknown = pipeline("help", "thumbnail");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown command 'thumbnail'/);
  });

  it("never echoes a control code from the command line: commander's messages quote it escaped", () => {
    const hostile = "\u001b]0;pwned\u0007\u001b[31mred\u202e";
    for (const args of [[hostile], ["images", "list", "--sort", hostile], ["status", `--${hostile}`]]) {
      const run = pipeline(...args);
      expect(run.status, args.join(" ")).toBe(2);
      expect(run.stderr).toContain("\\x1b]0;pwned\\x07\\x1b[31mred\\u202e");
      for (const raw of ["\u001b", "\u0007", "\u202e"]) expect(run.stderr).not.toContain(raw);
    }
  });
});
