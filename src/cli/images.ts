// npm run images -- <command>: query and manage images from a terminal, on any of the three backends.
import { Command, CommanderError, InvalidArgumentError } from "commander";
import type { Clients } from "../aws/clients.ts";
import { type Config, describeTarget } from "../config.ts";
import { errorMessage } from "../errors.ts";
import { escapeTerminal, terminalJson } from "../format.ts";
import { pollUntil } from "../poll.ts";
import { deleteImage, failedImages, MissingResourceError, presignImageUrls, reprocessImages } from "../store/manage.ts";
import { getImageItem, type ImageItem, ImageStatus, LISTED_STATUSES, type ListedStatus } from "../store/metadata.ts";
import {
  findImage,
  InvalidQueryError,
  listImages,
  MAX_PAGE_SIZE,
  MissingIndexError,
  SORT_ORDERS,
  type SortOrder,
  scanImages,
} from "../store/query.ts";
import { reconcile } from "../store/reconcile.ts";
import { Exit, TERMINAL_SAFE_OUTPUT } from "./command.ts";
import { confirm } from "./confirm.ts";
import { configFromEnvironment, explainConnectionError, type Failure, fail, withClients } from "./env.ts";
import {
  formatDeleted,
  formatImageDetail,
  formatImageTable,
  formatReconciled,
  formatReprocessed,
} from "./images/format.ts";

class UsageError extends Error {
  override name = "UsageError";
}
class NotFoundError extends Error {
  override name = "NotFoundError";
}

/**
 * Runs a command's work with the configuration and the clients, read and built only now: --help
 * and usage errors need neither a valid .env nor a stack. An error ends the process (failureOf).
 */
function withImages<T>(work: (config: Config, clients: Clients) => Promise<T>): Promise<T> {
  const config = configFromEnvironment();
  return withClients(
    config,
    (error) => failureOf(error, config),
    (clients) => work(config, clients),
  );
}

function print(json: boolean, data: unknown, text: () => string): void {
  // The text formatters escape each value they print (formatTable, escapeTerminal).
  process.stdout.write(json ? `${terminalJson(data, 2)}\n` : `${text()}\n`);
}

async function resolveImage(
  config: Config,
  clients: Clients,
  idOrKey: string,
  options: { includeDeleted?: boolean } = {},
): Promise<ImageItem> {
  const item = await findImage(config, clients, idOrKey, options);
  if (item) return item;
  throw new NotFoundError(
    `No image "${idOrKey}" in table ${config.names.table} on ${describeTarget(config)}. ` +
      "Give an imageId, a key (uploads/cat.jpg) or a name (cat.jpg); `npm run images -- find <text>` searches.",
  );
}

function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };
}

function sortArgument(value: string): SortOrder {
  if (!(SORT_ORDERS as readonly string[]).includes(value)) throw new InvalidArgumentError(SORT_ORDERS.join(" or "));
  return value as SortOrder;
}

function statusArgument(value: string): ListedStatus {
  const status = value.toUpperCase() as ListedStatus;
  if (!LISTED_STATUSES.includes(status)) throw new InvalidArgumentError("processed or failed");
  return status;
}

const program = new Command("npm run images --")
  .description("Query and manage the images in the pipeline's table and buckets (AWS_ENDPOINT_URL, NAME_PREFIX...).")
  .exitOverride()
  .configureOutput(TERMINAL_SAFE_OUTPUT)
  .showHelpAfterError("(add --help for usage)")
  .addHelpText(
    "after",
    `
Every command takes --help and --json. Exit codes: 0 ok, 1 error (e.g. no stack at the
endpoint), 2 usage error (e.g. a bad date), 3 no such image.`,
  );

program
  .command("list")
  .description("Images newest first, through the upload-date or taken-date index (a Query, never a Scan).")
  .option(
    "--sort <order>",
    "uploaded, or taken: by when the photo was taken (EXIF); images without a taken date are left out",
    sortArgument,
    "uploaded",
  )
  .option("--since <date>", "at or after (the --sort date): YYYY-MM-DD or an ISO date-time (UTC; taken: camera time)")
  .option("--until <date>", "at or before; a bare date includes that whole day")
  .option("--status <status>", "processed or failed", statusArgument)
  .option("--limit <n>", "how many images to show", wholeNumber(1), 50)
  .option("--cursor <cursor>", "continue where a previous list stopped (it prints the cursor)")
  .option("--json", "print JSON: { items, nextCursor, scannedCount }")
  .addHelpText(
    "after",
    "\nExamples: npm run images -- list --since 2024-05-01 --status failed --limit 10\n" +
      "          npm run images -- list --sort taken --since 2023-12-24 --until 2023-12-26",
  )
  .action(
    async (opts: {
      sort: SortOrder;
      since?: string;
      until?: string;
      status?: ListedStatus;
      limit: number;
      cursor?: string;
      json?: boolean;
    }) => {
      return withImages(async (config, clients) => {
        const items: ImageItem[] = [];
        let scannedCount = 0;
        let cursor = opts.cursor;
        // The query pages hold at most MAX_PAGE_SIZE; a larger --limit reads several.
        do {
          const page = await listImages(config, clients, {
            sort: opts.sort,
            ...(opts.since && { since: opts.since }),
            ...(opts.until && { until: opts.until }),
            ...(opts.status && { status: opts.status }),
            limit: Math.min(opts.limit - items.length, MAX_PAGE_SIZE),
            ...(cursor && { cursor }),
          });
          items.push(...page.items);
          scannedCount += page.scannedCount;
          cursor = page.nextCursor;
        } while (cursor && items.length < opts.limit);

        print(opts.json === true, { items, ...(cursor && { nextCursor: cursor }), scannedCount }, () => {
          const taken = opts.sort === "taken";
          const index = taken ? config.names.takenDateIndex : config.names.uploadDateIndex;
          const order = taken
            ? "latest taken first (images without a taken date are not in this order)"
            : "newest first";
          const summary = `${items.length} image(s), ${order}; Query on index ${index} read ${scannedCount} entries.`;
          const more = cursor ? `\nMore: the same command with --cursor ${cursor}` : "";
          const table = formatImageTable(items, taken ? { taken: true } : {});
          return items.length === 0 ? `No images match.${more}` : `${table}\n${summary}${more}`;
        });
      });
    },
  );

program
  .command("get")
  .description("One image: the whole item, with presigned URLs of the original and each thumbnail.")
  .argument("<image>", "imageId, key (uploads/cat.jpg) or name (cat.jpg)")
  .option("--expires <seconds>", "how long the URLs stay valid", wholeNumber(1, 604_800), 3600)
  .option("--deleted", "also show a deleted image's tombstone (its original is gone)")
  .option("--json", "print JSON: { item, urls }")
  .action(async (image: string, opts: { expires: number; deleted?: boolean; json?: boolean }) => {
    return withImages(async (config, clients) => {
      const item = await resolveImage(config, clients, image, { includeDeleted: opts.deleted === true });
      const urls = await presignImageUrls(config, clients, item, opts.expires);
      print(opts.json === true, { item, urls }, () => formatImageDetail(item, urls));
    });
  });

program
  .command("find")
  .summary("Images by name prefix or any part of the key (a Scan: says so, with the items read).")
  .description(
    "Images whose name starts with TEXT, or whose key or imageId contains it (case-sensitive). " +
      "This reads the whole table with a Scan, since no index answers it; the output says how many items it read.",
  )
  .argument("<text>", "a name prefix, or any part of a key or of an imageId / thumbnail URL")
  .option("--limit <n>", "stop after this many matches", wholeNumber(1), 50)
  .option("--deleted", "also list tombstones of deleted images (hidden by default)")
  .option("--json", "print JSON: { method, table, scannedCount, matchedCount, complete, items }")
  .action(async (text: string, opts: { limit: number; deleted?: boolean; json?: boolean }) => {
    return withImages(async (config, clients) => {
      const table = config.names.table;
      // A thumbnail URL or key holds the imageId: then one GetItem answers, no Scan needed.
      const id = /[0-9a-f]{32}/.exec(text)?.[0];
      const found = id ? await getImageItem(clients, config.names, id) : undefined;
      const byId = found && (opts.deleted || found.status !== ImageStatus.Deleted) ? found : undefined;
      if (byId) {
        print(
          opts.json === true,
          { method: "get", table, scannedCount: 1, matchedCount: 1, complete: true, items: [byId] },
          () => `${formatImageTable([byId])}\nAnswered by GetItem on imageId ${id} (no Scan).`,
        );
        return;
      }
      const result = await scanImages(config, clients, {
        text,
        limit: opts.limit,
        ...(opts.deleted && { includeDeleted: true }),
      });
      print(opts.json === true, { method: "scan", table, ...result }, () => {
        const read = `Scan of table ${table} (no index answers this): read ${result.scannedCount} item(s)${result.complete ? "" : ", stopped early"}; ${result.matchedCount} matched.`;
        const cut =
          result.matchedCount > result.items.length ? ` Showing ${result.items.length}: raise --limit for more.` : "";
        return result.items.length === 0
          ? `No images match "${escapeTerminal(text)}".\n${read}`
          : `${formatImageTable(result.items)}\n${read}${cut}`;
      });
    });
  });

program
  .command("delete")
  .description("Deletes an image's original, its thumbnails and its item; nothing else.")
  .argument("<image>", "imageId, key (uploads/cat.jpg) or name (cat.jpg)")
  .option("-y, --yes", "do not ask for confirmation (required when not on a terminal)")
  .option("--json", "print JSON: { imageId, original, thumbnails }")
  .action(async (image: string, opts: { yes?: boolean; json?: boolean }) => {
    return withImages(async (config, clients) => {
      const item = await resolveImage(config, clients, image);
      if (!opts.yes) {
        if (!process.stdin.isTTY) throw new UsageError("Refusing to delete without confirmation: pass --yes.");
        const count = item.thumbnails?.length ?? 0;
        const yes = await confirm(
          `Delete ${escapeTerminal(item.name)} (s3://${escapeTerminal(`${item.bucket}/${item.key}`)}, ${count} thumbnail(s) and its item) on ${describeTarget(config)}?`,
        );
        if (!yes) {
          console.log("Nothing deleted.");
          return;
        }
      }
      const result = await deleteImage(config, clients, item);
      print(opts.json === true, result, () => formatDeleted(result, item.name));
    });
  });

program
  .command("reprocess")
  .summary("Puts images (or every FAILED one) back on the upload queue.")
  .description(
    "Puts images back on the upload queue, so that today's code and THUMBNAIL_SIZES are applied to them. " +
      "Their items are written again; their place in the list does not change.",
  )
  .argument("[images...]", "imageIds, keys or names")
  .option("--failed", "every FAILED image (found through the index, not a Scan)")
  .option("--wait", "wait until the worker has processed them again; exit 1 if any failed or timed out")
  .option("--timeout <seconds>", "with --wait: how long to wait", wholeNumber(1), 120)
  .option("--json", "print JSON: { outcomes, items? }")
  .addHelpText(
    "after",
    "\nExamples:\n  npm run images -- reprocess uploads/cat.jpg --wait\n  npm run images -- reprocess --failed",
  )
  .action(async (images: string[], opts: { failed?: boolean; wait?: boolean; timeout: number; json?: boolean }) => {
    if ((opts.failed === true) === images.length > 0)
      throw new UsageError("Give either images to reprocess or --failed.");
    return withImages(async (config, clients) => {
      // Resolve everything before queueing anything: a typo must not leave half the list queued.
      const items = opts.failed
        ? await failedImages(config, clients)
        : await Promise.all(images.map((image) => resolveImage(config, clients, image)));
      if (items.length === 0) {
        print(opts.json === true, { outcomes: [] }, () => "No FAILED images: nothing to reprocess.");
        return;
      }
      const outcomes = await reprocessImages(config, clients, items);
      const notQueued = outcomes.filter((o) => o.result !== "queued").length;
      if (notQueued > 0) process.exitCode = Exit.Error;
      if (!opts.wait) {
        print(opts.json === true, { outcomes }, () => {
          const queued = outcomes.length - notQueued;
          const hint =
            notQueued > 0 ? "\nAn image whose original is gone can be removed with `npm run images -- delete`." : "";
          return `${formatReprocessed(outcomes)}\n${queued} queued on ${config.names.queue}, ${notQueued} not queued.${hint}`;
        });
        return;
      }
      const queued = items.filter((item) => outcomes.some((o) => o.imageId === item.imageId && o.result === "queued"));
      const after = await waitForReprocessing(config, clients, queued, opts.timeout * 1000);
      const done = after.filter((item): item is ImageItem => item !== undefined);
      const failed = done.filter((item) => item.status === ImageStatus.Failed).length;
      const timedOut = after.length - done.length;
      if (failed + timedOut + notQueued > 0) process.exitCode = Exit.Error;
      print(opts.json === true, { outcomes, items: done }, () =>
        [
          formatReprocessed(outcomes),
          done.length > 0 ? `\n${formatImageTable(done)}` : "",
          `${done.length - failed} processed, ${failed} failed, ${timedOut} timed out` +
            `${timedOut > 0 ? " (is the worker running? npm start)" : ""}, ${notQueued} not queued.`,
        ]
          .filter(Boolean)
          .join("\n"),
      );
    });
  });

program
  .command("reconcile")
  .summary("Repairs the table and the thumbnails after an outage: what the uploads bucket holds wins.")
  .description(
    "Lists the uploads bucket, the table (a Scan) and the thumbnails bucket, and repairs the differences: " +
      "uploads without an item (or with an item for another eTag) are queued for the worker, items whose " +
      "original is gone are removed with their thumbnails, thumbnail objects no item names are deleted, " +
      "and expired tombstones are removed. Safe to run at any time, and twice.",
  )
  .option("--dry-run", "only report what would be done; change nothing")
  .option("--verbose", "print every key and what was done with it")
  .option(
    "--grace <seconds>",
    "leave unnamed thumbnails younger than this: a worker may be about to record them",
    wholeNumber(0),
    600,
  )
  .option("--json", "print JSON: { dryRun, listed, counts, actions }")
  .action(async (opts: { dryRun?: boolean; verbose?: boolean; grace: number; json?: boolean }) => {
    return withImages(async (config, clients) => {
      const report = await reconcile(config, clients, { dryRun: opts.dryRun === true, graceSeconds: opts.grace });
      print(opts.json === true, report, () => formatReconciled(report, describeTarget(config), opts.verbose === true));
    });
  });

/** The items once processed again (a new processedAt), or undefined where the timeout came first. */
async function waitForReprocessing(
  config: Config,
  clients: Clients,
  items: ImageItem[],
  timeoutMs: number,
): Promise<(ImageItem | undefined)[]> {
  const deadline = Date.now() + timeoutMs;
  return Promise.all(
    items.map((before) =>
      pollUntil(
        async () => {
          const item = await getImageItem(clients, config.names, before.imageId);
          return item && item.processedAt !== before.processedAt ? item : undefined;
        },
        { deadline, intervalMs: 250 },
      ),
    ),
  );
}

/** The one line (or two, with the usage hint) an error ends the command with, and its exit code. */
function failureOf(error: unknown, config?: Config): Failure {
  const say = (message: string, exitCode: Exit = Exit.Error) => ({ message: `error: ${message}`, exitCode });
  if (error instanceof UsageError || error instanceof InvalidQueryError) {
    return say(`${error.message}\n(add --help for usage)`, Exit.Usage);
  }
  if (error instanceof NotFoundError) return say(error.message, Exit.NotFound);
  if (error instanceof MissingResourceError || error instanceof MissingIndexError) return say(error.message);
  const target = config ? describeTarget(config) : "the endpoint";
  const name = (error as { name?: string })?.name;
  if (config && name === "ResourceNotFoundException") {
    return say(
      `Table ${config.names.table} does not exist on ${target}: check TABLE_NAME, or run \`npm run bootstrap\`.`,
    );
  }
  if (name === "NoSuchBucket") {
    return say(`${errorMessage(error)} (on ${target}): check NAME_PREFIX, or run \`npm run bootstrap\`.`);
  }
  return say(explainConnectionError(error, target) ?? errorMessage(error));
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has printed its own message (or the help) already.
  if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? Exit.Ok : Exit.Usage;
  else {
    const { message, exitCode } = failureOf(error);
    fail(message, exitCode);
  }
}
