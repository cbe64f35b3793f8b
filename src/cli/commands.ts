// The project's commands: each npm script's module and the line `npm run pipeline -- --help`
// shows for it (src/cli/main.ts).
import { fileURLToPath } from "node:url";

/** The project's root folder, which the modules' paths are relative to. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The subcommands: the module each one runs (from the project's root; it parses its own
 * options, so `<command> --help` is its full usage) and the line the listing shows.
 * test/cli/commands.test.ts checks that these are exactly the npm scripts and that each
 * script runs the same module.
 */
export const COMMANDS = {
  start: ["src/cli/start.ts", "the whole pipeline on the embedded stack: stack, bootstrap, worker, gallery"],
  stack: ["src/cli/stack.ts", "only the embedded AWS stack, in the foreground"],
  bootstrap: ["bootstrap/index.ts", "creates every resource the pipeline needs; a second run creates nothing"],
  resources: ["bootstrap/resources.ts", "lists every resource with its name, ARN and URL, and whether it exists"],
  teardown: ["bootstrap/teardown.ts", "deletes everything bootstrap and deploy created"],
  deploy: ["bootstrap/deploy.ts", "deploys the same handler to AWS Lambda behind the same queue"],
  worker: ["worker/index.ts", "long-polls the upload queue and makes thumbnails until SIGINT or SIGTERM"],
  web: ["web/server.ts", "the gallery on http://localhost:8080 (WEB_PORT)"],
  "seed-images": ["src/cli/seed.ts", "uploads a folder of images and waits for each one's result"],
  images: ["src/cli/images.ts", "lists, searches, shows, deletes, reprocesses and reconciles images"],
  status: ["src/cli/status.ts", "queue depths, image counts by status and the last failures"],
  redrive: ["src/cli/redrive.ts", "moves the dead-letter queue's messages back to the upload queue"],
  burst: ["test/bench/burst.ts", "a burst of real and hostile uploads through the whole pipeline"],
  bench: ["test/bench/bench.ts", "speed and memory: raw sharp, the pipeline, the original project"],
} as const satisfies Record<string, readonly [string, string]>;

export type CommandName = keyof typeof COMMANDS;
