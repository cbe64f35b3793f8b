// The suite passes whatever the user exported in their shell (WEB_PORT, NAME_PREFIX, AWS_PROFILE...)
// and whatever their .env says: tests set what they need, and this clears the rest.
import { readFileSync } from "node:fs";
import { CONFIG_VARIABLES } from "../src/config.ts";

/** Every variable .env.example documents, set or commented out (LOCALSTACK_IMAGE, AWS_SESSION_TOKEN...). */
const EXAMPLE_VARIABLES = [
  ...readFileSync(new URL("../.env.example", import.meta.url), "utf8").matchAll(/^#?([A-Z][A-Z0-9_]*)=/gm),
].map((match) => match[1] ?? "");

/** What the pipeline, the gallery and docker-compose.yml read: src/config.ts and .env.example. */
export const PIPELINE_VARIABLES: readonly string[] = [...new Set([...CONFIG_VARIABLES, ...EXAMPLE_VARIABLES])];

/**
 * Clears the user's settings from `env` (the test run's own process.env, in global setup: every
 * test worker and every child process a test starts inherits it):
 * - every AWS_ variable, the SDK's own included (AWS_PROFILE, AWS_ENDPOINT_URL_S3...), is
 *   removed: tests give endpoint, region and credentials explicitly; so are dotenv's options;
 * - every other pipeline variable is set to "": src/config.ts reads "" as unset, and dotenv never
 *   overrides a variable that is set, so a .env in the project cannot reach a child process either.
 *   (AWS_ variables cannot be blanked: the SDK would take "" for a region.)
 */
export function clearPipelineSettings(env: NodeJS.ProcessEnv): void {
  // DOTENV_OVERRIDE, DOTENV_CONFIG_PATH...: dotenv's own options, which could let .env win.
  for (const name of Object.keys(env)) if (name.startsWith("AWS_") || name.startsWith("DOTENV_")) delete env[name];
  for (const name of PIPELINE_VARIABLES) if (!name.startsWith("AWS_")) env[name] = "";
}

/**
 * The environment for a tool that would read a blank variable as set (the Compose CLI: a bare
 * `- NAME_PREFIX` passes "" on, and the shell's value wins over .env): without any pipeline
 * variable, nor Compose's own settings (COMPOSE_FILE, COMPOSE_PROJECT_NAME...).
 */
export function withoutPipelineSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(
      ([name]) => !name.startsWith("AWS_") && !name.startsWith("COMPOSE_") && !PIPELINE_VARIABLES.includes(name),
    ),
  );
}
