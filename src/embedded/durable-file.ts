import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import path from "node:path";

/**
 * Replaces `file` with `data` so that a crash, a power loss or a full disk leaves either the
 * old content or the new, never a mix: written to `<file>.tmp`, fsynced, renamed over `file`,
 * and the folder fsynced so the rename itself survives (rename(2) is atomic on POSIX file
 * systems). Returns the bytes written. Throws the file system's error (ENOSPC, EACCES…), and
 * `file` is then unchanged.
 */
export function replaceFileDurably(file: string, data: Buffer): number {
  const temporary = `${file}.tmp`;
  const fd = openSync(temporary, "w");
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  syncDirectory(path.dirname(file));
  return data.length;
}

/** Makes a folder's entries (a rename, a new file) durable. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
