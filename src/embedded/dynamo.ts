import { readdirSync } from "node:fs";
import type http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";

type Callback = (err: unknown, data?: unknown) => void;
type Action = (store: unknown, data: unknown, cb: Callback) => void;
interface DynaliteOptions {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  /** LevelDB folder; in memory without it. */
  path?: string;
}

const require = createRequire(import.meta.url);
let dynalite: ((options: DynaliteOptions) => http.Server) | undefined;

/**
 * dynalite (DynamoDB), with one fix: it throws a storage error from its request callback
 * (`if (err) throw err`), so a full disk (LevelDB "IO error: No space left on device") or a
 * store that failed to open ("Database is closed") ended the whole stack with an uncaught
 * exception. Here each action reports such an error as DynamoDB's own 500
 * InternalServerError, which the SDK retries
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html).
 *
 * dynalite binds its actions when first loaded, so the wrapped actions are put in the module
 * cache before it is.
 */
export function createDynalite(options: DynaliteOptions): http.Server {
  if (!dynalite) {
    const actionsDir = path.join(path.dirname(require.resolve("dynalite")), "actions");
    for (const file of readdirSync(actionsDir).filter((f) => f.endsWith(".js"))) {
      const id = path.join(actionsDir, file);
      const action = require(id) as Action;
      const cached = require.cache[id];
      if (cached) cached.exports = answerStoreErrors(action);
    }
    dynalite = require("dynalite") as (options: DynaliteOptions) => http.Server;
  }
  return dynalite(options);
}

function answerStoreErrors(action: Action): Action {
  return (store, data, cb) => {
    let answered = false;
    const once: Callback = (err, result) => {
      if (answered) return;
      answered = true;
      // Validation and conditional failures carry their own status; anything else is the store.
      if (err && !(err as { statusCode?: number }).statusCode) cb(storeError(err));
      else cb(err, result);
    };
    try {
      action(store, data, once);
    } catch (error) {
      once(error);
    }
  };
}

function storeError(err: unknown): { statusCode: number; body: { __type: string; message: string } } {
  return {
    statusCode: 500,
    body: {
      __type: "com.amazonaws.dynamodb.v20120810#InternalServerError",
      message: `The DynamoDB store failed: ${(err as Error)?.message ?? String(err)}`,
    },
  };
}

/**
 * Opens and closes dynalite's LevelDB store once before dynalite does: dynalite opens it in
 * the background and a failure (a full disk) would only show as "Database is closed" on the
 * first call. Throws LevelDB's error (e.g. "IO error: …: No space left on device").
 */
export async function checkLevelStore(folder: string): Promise<void> {
  // dynalite's own copy of `level`, so the probe opens the store exactly as dynalite will.
  const fromDynalite = createRequire(require.resolve("dynalite"));
  const { Level } = fromDynalite("level") as {
    Level: new (location: string) => { open(): Promise<void>; close(): Promise<void> };
  };
  const db = new Level(folder);
  try {
    await db.open();
  } finally {
    await db.close().catch(() => {});
  }
}
