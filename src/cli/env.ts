import dotenv from "dotenv";
import { type Clients, createClients, destroyClients } from "../aws/clients.ts";
import { type Config, describeTarget, loadConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { escapeTerminalLines } from "../format.ts";
import { Exit } from "./command.ts";

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
  // Something else answers there (a web server, a proxy's error page): the SDK finds no AWS error
  // in the body and says only "UnknownError", or fails to parse it as XML.
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const { name, message } = (error ?? {}) as Error;
  const unknown = (word: string | undefined) => word === "Unknown" || word === "UnknownError";
  if (status !== undefined && (unknown(name) || unknown(message) || /Deserialization error/.test(text))) {
    return `${endpoint} answered HTTP ${status}, but not as an AWS service: is AWS_ENDPOINT_URL the stack's address (\`npm start\` says it)?`;
  }
  return undefined;
}

/** What a command says when its work fails, and the exit code it ends with (default 1, Exit.Error). */
export interface Failure {
  message: string;
  exitCode?: Exit;
}

/**
 * Builds the AWS clients for `config`, runs `work` with them and always destroys them. An
 * error ends the process with one line and exit code 1: with `failure` a prefix, "Nothing
 * answers at …" when no stack is there, otherwise `${failure}: ${message}` (e.g. "Bootstrap
 * failed: …"); with `failure` a function, what it returns for the error (its own wording and
 * exit code, e.g. 3 for an image that does not exist).
 */
export async function withClients<T>(
  config: Config,
  failure: string | ((error: unknown) => Failure),
  work: (clients: Clients) => Promise<T>,
): Promise<T> {
  const clients = createClients(config);
  try {
    return await work(clients);
  } catch (error) {
    if (typeof failure !== "string") {
      const { message, exitCode = Exit.Error } = failure(error);
      fail(message, exitCode);
    }
    fail(explainConnectionError(error, describeTarget(config)) ?? `${failure}: ${(error as Error).message}`);
  } finally {
    destroyClients(clients);
  }
}
