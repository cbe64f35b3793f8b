// npm run pipeline -- <command> [options]: every command of the project as one program.
// Each npm script runs one of these subcommands' modules directly (`npm run images -- list`
// is `npm run pipeline -- images list`); `npm run pipeline -- --help` lists them all.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { EXIT_CODES_HELP, Exit, TERMINAL_SAFE_OUTPUT } from "./command.ts";
import { COMMANDS, type CommandName, ROOT } from "./commands.ts";

const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };

const program = new Command("npm run pipeline --")
  .version(version, "-V, --version", "print the project's version")
  .description(
    "The local-first AWS image pipeline's commands. Each is also an npm script: npm run <command> -- [options].",
  )
  .usage("<command> [options]")
  .enablePositionalOptions()
  .helpCommand(false)
  .exitOverride()
  .configureOutput(TERMINAL_SAFE_OUTPUT)
  .showHelpAfterError("(add --help for usage)")
  .addHelpText("after", `\n<command> --help (or help <command>) prints the command's own options.\n${EXIT_CODES_HELP}`);

let chosen: { name: CommandName; rest: string[] } | undefined;
for (const [name, [, summary]] of Object.entries(COMMANDS)) {
  program
    .command(name)
    .description(summary)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .action((_options: unknown, cmd: Command) => {
      chosen = { name: name as CommandName, rest: cmd.args };
    });
}

// `help <command>` is `<command> --help`, as `npm run images -- help list` is in the images CLI
// (commander's own help command would show only the listing's one line for it).
const argv = [...process.argv];
if (argv[2] === "help") {
  const name = argv[3];
  // An unknown name is left alone, so that it is refused as one (exit 2), not answered with help.
  argv.splice(2, 2, ...(name === undefined ? ["--help"] : Object.hasOwn(COMMANDS, name) ? [name, "--help"] : [name]));
}
try {
  program.parse(argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? Exit.Ok : Exit.Usage);
  throw error;
}
// Commander has printed the usage (to stderr) and exited 2 when no command was given.
if (!chosen) process.exit(Exit.Usage);
// The subcommand's module reads its options from process.argv, as when it runs on its own.
const file = path.join(ROOT, COMMANDS[chosen.name][0]);
process.argv = [process.argv[0] ?? process.execPath, file, ...chosen.rest];
await import(file);
