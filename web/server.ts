// npm run web: the gallery on http://localhost:8080 (WEB_PORT), against AWS_ENDPOINT_URL or AWS.

import { z } from "zod";
import { createClients, destroyClients } from "../src/aws/clients.ts";
import { command, parseCommand } from "../src/cli/command.ts";
import { configFromEnvironment, fail } from "../src/cli/env.ts";
import { onStopRequest } from "../src/cli/process.ts";
import { describeTarget } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import { createGalleryServer } from "./gallery.ts";

parseCommand(
  command(
    "web",
    "The gallery on http://localhost:8080 (WEB_PORT), against AWS_ENDPOINT_URL or AWS, until SIGINT or SIGTERM.",
  ),
  z.object({}),
);
const config = configFromEnvironment();
const logger = createLogger(config.logLevel, { service: "web", pid: process.pid });
const clients = createClients(config);

const gallery = await createGalleryServer({ config, clients, logger });
const url = await gallery
  .listen()
  .catch((error: NodeJS.ErrnoException) =>
    fail(
      error.code === "EADDRINUSE"
        ? `Port ${config.web.port} is already in use: stop what uses it or set WEB_PORT.`
        : `The gallery could not start: ${error.message}`,
    ),
  );
logger.info("gallery listening", { url, endpoint: describeTarget(config) });

let stopping = false;
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info("stopping", { reason });
  await gallery.close();
  destroyClients(clients);
  process.exit(0);
}
// A signal, or npm start (its parent) gone even by kill -9.
onStopRequest((reason) => void shutdown(reason));
