// What every command-line entry point shares: its usage (commander), one zod schema for its
// options and arguments, and the exit codes. `--help` prints the usage and exits 0 before
// the entry point reads its configuration or starts anything.
import { Command, CommanderError } from "commander";
import { z } from "zod";
import { escapeTerminalLines } from "../format.ts";

/** The exit codes of every command (README, "Commands"); scripts branch on them. */
export const Exit = { Ok: 0, Error: 1, Usage: 2, NotFound: 3 } as const;
export type Exit = (typeof Exit)[keyof typeof Exit];

export const EXIT_CODES_HELP =
  "Exit codes: 0 ok, 1 error (e.g. nothing answers at the endpoint), 2 usage error (a bad option or argument), 3 not found.";

const SETTINGS_HELP =
  "Settings come from .env and the environment (AWS_ENDPOINT_URL, NAME_PREFIX...: see .env.example).";

/**
 * Commander's output settings for every program: its error messages quote what the user typed
 * ("unknown command '…'", "argument '…' is invalid"), so they go out through
 * escapeTerminalLines and a control code in an argument is shown, never obeyed. Subcommands
 * inherit this from their program.
 */
export const TERMINAL_SAFE_OUTPUT = {
  outputError: (text: string, write: (text: string) => void) => write(escapeTerminalLines(text)),
} as const;

/** A command for `npm run <script> -- [options]`, with the shared help text and exit codes. */
export function command(script: string, description: string): Command {
  return new Command(`npm run ${script} --`)
    .description(description)
    .exitOverride()
    .configureOutput(TERMINAL_SAFE_OUTPUT)
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("after", `\n${SETTINGS_HELP}\n${EXIT_CODES_HELP}`);
}

/**
 * Parses `argv` (default: this process's) with `cmd`, then checks options and arguments with
 * `schema` (`args` holds the positional arguments). Prints the usage and exits 0 on --help;
 * exits 2 with a one-line reason on anything the command or the schema refuses.
 */
export function parseCommand<S extends z.ZodType>(
  cmd: Command,
  schema: S,
  argv: readonly string[] = process.argv,
): z.infer<S> {
  try {
    cmd.parse([...argv]);
  } catch (error) {
    // Commander has printed the help, or its own one-line message.
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? Exit.Ok : Exit.Usage);
    throw error;
  }
  const result = schema.safeParse({ ...cmd.opts(), args: cmd.processedArgs });
  if (!result.success) {
    const reasons = result.error.issues.map((i) => `${optionName(i.path)}: ${i.message}`).join("; ");
    usageError(reasons);
  }
  return result.data;
}

/** Ends the process with exit code 2 and a one-line reason. */
export function usageError(message: string): never {
  process.stderr.write(`error: ${escapeTerminalLines(message)}\n(add --help for usage)\n`);
  process.exit(Exit.Usage);
}

function optionName(path: readonly PropertyKey[]): string {
  const [first, index] = path;
  if (first === "args") return `argument ${Number(index ?? 0) + 1}`;
  return `--${String(first).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Schema pieces the commands share. Commander hands option values over as strings. */
export const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int("a whole number").min(min).max(max);
export const positiveNumber = () => z.coerce.number().positive();
