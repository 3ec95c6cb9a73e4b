import { randomBytes } from "node:crypto";
import { closeSync, constants, existsSync, fsyncSync, linkSync, lstatSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
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

/**
 * Creates a file with its whole content in one step, only if none exists: a temp file, fsync, then a hard
 * link to the name (which fails if the name is taken). Returns false when another writer got there first;
 * no reader ever sees the file empty or half written.
 */
export function createFileExclusive(path: string, data: string, mode = 0o600): boolean {
  const tmp = writeTemp(path, data, mode);
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    // A file system without hard links (FAT, some network shares): a rename, checked first, is the best left.
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
    if (existsSync(path)) return false;
    renameSync(tmp, path);
    return true;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function writeTemp(path: string, data: string, mode: number): string {
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
  return tmp;
}

function writeThroughTemp(path: string, data: string, mode: number): void {
  const tmp = writeTemp(path, data, mode);
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
