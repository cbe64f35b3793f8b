// npm run status [-- --json]: queue depths, counts by status and the last failures.
import { z } from "zod";
import { queueDepth } from "../aws/queues.ts";
import { describeTarget } from "../config.ts";
import { formatBytes, terminalJson } from "../format.ts";
import { ImageStatus } from "../store/metadata.ts";
import { countImages, listImages, MAX_PAGE_SIZE } from "../store/query.ts";
import { formatTable } from "../table.ts";
import { command, Exit, parseCommand, wholeNumber } from "./command.ts";
import { configFromEnvironment, fail, withClients } from "./env.ts";

const values = parseCommand(
  command("status", "Queue depths, image counts by status and the last failures.")
    .option("--json", "print JSON: { target, queue, deadLetters, counts, lastFailures }")
    .option("--failures <n>", "how many of the last failures to list", "5"),
  z.object({ json: z.boolean().default(false), failures: wholeNumber(1, MAX_PAGE_SIZE) }),
);
const config = configFromEnvironment();
await withClients(config, "Failed", async (clients) => {
  const [queue, deadLetters, counts, failed] = await Promise.all([
    queueDepth(clients, config.names.queue),
    queueDepth(clients, config.names.deadLetterQueue),
    countImages(config, clients),
    listImages(config, clients, { status: ImageStatus.Failed, limit: values.failures }),
  ]);
  if (!queue)
    fail(
      `The queue ${config.names.queue} does not exist on ${describeTarget(config)}: run \`npm run bootstrap\`.`,
      Exit.NotFound,
    );
  const lastFailures = failed.items.map((i) => ({
    name: i.name,
    imageId: i.imageId,
    uploadDate: i.uploadDate,
    errorCode: i.errorCode,
    errorMessage: i.errorMessage,
    bytes: i.bytes,
  }));
  if (values.json) {
    console.log(terminalJson({ target: describeTarget(config), queue, deadLetters, counts, lastFailures }, 2));
  } else {
    console.log(`Pipeline "${config.names.prefix}" on ${describeTarget(config)}`);
    console.log(
      formatTable(
        ["", "waiting", "in flight"],
        [
          [config.names.queue, queue.waiting, queue.inFlight],
          [config.names.deadLetterQueue, deadLetters?.waiting ?? 0, deadLetters?.inFlight ?? 0],
        ],
      ),
    );
    console.log(`\nImages: ${counts.PROCESSED} processed, ${counts.FAILED} failed (${counts.total} in all)`);
    if (lastFailures.length > 0) {
      console.log("\nLast failures:");
      console.log(
        formatTable(
          ["uploaded", "name", "size", "code", "reason"],
          lastFailures.map((f) => [
            f.uploadDate.slice(0, 19).replace("T", " "),
            f.name,
            formatBytes(f.bytes ?? 0),
            f.errorCode ?? "",
            f.errorMessage ?? "",
          ]),
        ),
      );
    }
    if ((deadLetters?.waiting ?? 0) > 0) {
      console.log("\nMessages are waiting in the dead-letter queue: fix the cause, then `npm run redrive`.");
    }
  }
});
