import dotenv from "dotenv";
import { type Clients, createClients, destroyClients } from "../aws/clients.ts";
import { type Config, describeTarget, loadConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { escapeTerminalLines } from "../format.ts";

/**
 * Entry points call this first: .env (if any) under the real environment, then one
 * validated Config. A bad value ends the process with a message naming the variable.
 */
export function configFromEnvironment(): Config {
  dotenv.config({ quiet: true });
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

/** Prints the message (escaped for the terminal: it may quote keys or backend errors) and exits. */
export function fail(message: string, exitCode = 1): never {
  process.stderr.write(`${escapeTerminalLines(message)}\n`);
  process.exit(exitCode);
}

/** Turns "no stack at the endpoint" into one sentence instead of a stack trace. */
export function explainConnectionError(error: unknown, endpoint: string): string | undefined {
  const text = `${(error as { code?: string })?.code ?? ""} ${(error as Error)?.message ?? ""}`;
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|socket hang up/.test(text)) {
    return `Nothing answers at ${endpoint}. Start the stack first: \`npm start\` (embedded) or \`docker compose up\` (LocalStack).`;
  }
  return undefined;
}

/**
 * Builds the AWS clients for `config`, runs `work` with them and always destroys them. An
 * error ends the process with exit code 1 and one line: "Nothing answers at …" when no
 * stack is there, otherwise `${failure}: ${message}` (e.g. "Bootstrap failed: …").
 */
export async function withClients<T>(
  config: Config,
  failure: string,
  work: (clients: Clients) => Promise<T>,
): Promise<T> {
  const clients = createClients(config);
  try {
    return await work(clients);
  } catch (error) {
    fail(explainConnectionError(error, describeTarget(config)) ?? `${failure}: ${(error as Error).message}`);
  } finally {
    destroyClients(clients);
  }
}
