import { randomBytes } from "node:crypto";
import { closeSync, constants, fsyncSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Writes a file atomically: a fresh temp file beside it (O_EXCL, so no link is followed), fsync, rename.
 * Readers see the old content or the new, never half. Refuses to replace a directory or a symlink.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  refuseNonRegular(path);
  try {
    writeThroughTemp(path, data, mode);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "ENOSPC" ? "the disk is full" : e.code === "EACCES" || e.code === "EPERM" ? "permission denied" : e.message;
    throw Object.assign(new Error(`cannot write ${path}: ${why}`, { cause: err }), { code: e.code });
  }
}

function writeThroughTemp(path: string, data: string, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}

/** Throws when `path` exists as anything but a regular file (a directory, a symlink…). */
export function refuseNonRegular(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (st.isSymbolicLink()) throw Object.assign(new Error(`${path} is a symbolic link; refusing to follow it`), { code: "ESYMLINK" });
  if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: "ENOTFILE" });
}
