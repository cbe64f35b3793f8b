// How the long-running entry points (npm start, npm run stack|worker|web) stop, and how long a
// command took from the user's Enter.
import { readFileSync } from "node:fs";

/** Signals that ask a process to stop: Ctrl-C, `kill`/IDE stop buttons, a closed terminal. */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Read when the entry point imports this module, before its first await: a parent that dies during start-up counts too. */
const parentAtStart = process.ppid;

/**
 * Calls `stop` once, on the first stop signal or when the process that started this one is
 * gone, whichever comes first. `stop` gets the signal's name or "parent exited".
 *
 * kill -9 of a parent runs none of its handlers, so its children must notice by themselves
 * (Linux has no portable "die with my parent"): a child started with an IPC channel (npm
 * start's worker and gallery) hears its channel close at once ('disconnect', or finds it closed
 * already if the parent died while this process was starting); every process
 * also checks its parent PID every `pollMs`, which changes when the parent dies (the orphan
 * is re-parented to PID 1 or a subreaper). That covers `npm start` itself when npm is killed.
 */
export function onStopRequest(stop: (reason: StopSignal | "parent exited") => void, pollMs = 500): void {
  let stopped = false;
  const once = (reason: StopSignal | "parent exited") => {
    if (stopped) return;
    stopped = true;
    clearInterval(watch);
    stop(reason);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => once(signal));
  const watch = setInterval(() => {
    if (process.ppid !== parentAtStart) once("parent exited");
  }, pollMs);
  watch.unref();
  // `connected` is false (not undefined) once an IPC channel closed: the parent died during this
  // process's start-up, before this call. Its 'disconnect' was emitted then, with no listener, and
  // if that happened before this module was loaded, the orphan's PPID never changes again.
  if (process.connected === false) setImmediate(() => once("parent exited"));
  else if (process.channel) process.once("disconnect", () => once("parent exited"));
}

/**
 * Seconds since the user pressed Enter on the command that started this process.
 *
 * `npm start` starts npm (about 0.5 s of its own) and npm `exec`s this process, so this
 * process's uptime alone would leave npm's start-up out. Under npm (npm_lifecycle_event set),
 * on Linux, the start time of the nearest ancestor that is npm is read from /proc: field 22 of
 * /proc/<pid>/stat is its start in clock ticks after boot (USER_HZ, 100 on every Linux ABI:
 * proc(5)), and /proc/uptime the seconds since boot now. Elsewhere, or when that cannot be
 * read: this process's own uptime.
 */
export function secondsSinceCommandStart(): number {
  const own = process.uptime();
  if (!process.env.npm_lifecycle_event || process.platform !== "linux") return own;
  try {
    let pid = process.ppid;
    // npm → (sh, when the script does not exec) → this process: two levels at most.
    for (let depth = 0; depth < 3 && pid > 1; depth++) {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
      // npm renames its process "npm start" / "npm run stack".
      if (/^npm\b|[/\\]npm(-cli\.js)?$/.test(argv0)) {
        const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
        const elapsed = uptime - Number(fields[19]) / 100;
        return Number.isFinite(elapsed) && elapsed >= own ? elapsed : own;
      }
      pid = Number(fields[1]);
    }
  } catch {
    // /proc not readable (a container's hidepid, a vanished parent): fall back to our own start.
  }
  return own;
}
