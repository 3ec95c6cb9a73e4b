import { randomBytes } from "node:crypto";
import {
  chownSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { describeError, GatewayError } from "../errors.js";

/** A client config file as read before an edit. */
export interface ConfigFileSnapshot {
  /** The path the user knows. */
  path: string;
  /** Where the bytes live: a dotfiles symlink is followed, so the link itself survives the edit. */
  real: string;
  /** The file's text, or undefined when it does not exist yet. */
  text: string | undefined;
  /** Permission bits of the existing file, kept on rewrite. */
  mode: number | undefined;
  /** What identifies this version of the file: checked again just before our rename replaces it. */
  stamp?: { ino: number; size: number; mtimeMs: number; uid: number; gid: number };
}

/** Thrown when the file changed between our read and our write (the client itself saved it). */
export class ConcurrentChangeError extends Error {
  override readonly name = "ConcurrentChangeError";
}

/** What a write did besides replacing the file, for the user to read. */
export interface WriteResult {
  backup?: string;
  /** Set when root wrote another user's file and gave it back to that user. */
  owner?: { uid: number; gid: number };
}

/** How many backups of one config are kept: they may hold secrets (API keys in env), so not forever. */
export const BACKUPS_KEPT = 3;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Reads a client config (following a symlink); a missing file reads as undefined. */
export function readConfigFile(path: string): ConfigFileSnapshot {
  let real = path;
  try {
    real = realpathSync(path);
  } catch (err) {
    if (errno(err) !== "ENOENT") throw new GatewayError("CLIENT_CONFIG", `cannot resolve ${path}: ${describeError(err)}`, { cause: err });
  }
  let fd: number;
  try {
    fd = openSync(real, "r");
  } catch (err) {
    if (errno(err) === "ENOENT") return { path, real, text: undefined, mode: undefined };
    throw new GatewayError("CLIENT_CONFIG", `cannot read ${path}: ${describeError(err)}`, { cause: err });
  }
  try {
    // Stamp and text from the same open file, so the stamp describes exactly the bytes we parsed.
    const st = fstatSync(fd);
    const text = readFileSync(fd, "utf8");
    return { path, real, text, mode: st.mode & 0o777, stamp: { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid } };
  } finally {
    closeSync(fd);
  }
}

function stampOf(real: string): ConfigFileSnapshot["stamp"] {
  try {
    const st = statSync(real);
    return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid };
  } catch (err) {
    if (errno(err) === "ENOENT") return undefined;
    throw err;
  }
}

function sameStamp(a: ConfigFileSnapshot["stamp"], b: ConfigFileSnapshot["stamp"]): boolean {
  if (!a || !b) return a === b;
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * Who must own what we write. Our own file: us. Someone else's: refused, unless we are root (an installer
 * run with sudo and HOME set to the user's home), who hands the new file and its backup back to that
 * user, since a root-owned 0600 config is one the client can no longer read. A new file as root takes the
 * owner of the nearest existing folder above it.
 */
function ownerFor(snapshot: ConfigFileSnapshot): { uid: number; gid: number } | undefined {
  if (typeof process.geteuid !== "function") return undefined;
  const euid = process.geteuid();
  if (snapshot.stamp) {
    if (snapshot.stamp.uid === euid) return undefined;
    if (euid !== 0) {
      throw new GatewayError(
        "CLIENT_CONFIG",
        `${snapshot.path} belongs to uid ${snapshot.stamp.uid}, not to you (uid ${euid}): run install as that user; the file was left untouched`,
      );
    }
    return { uid: snapshot.stamp.uid, gid: snapshot.stamp.gid };
  }
  if (euid !== 0) return undefined;
  for (let dir = dirname(snapshot.real); ; dir = dirname(dir)) {
    try {
      const st = statSync(dir);
      return st.uid === 0 ? undefined : { uid: st.uid, gid: st.gid };
    } catch {
      if (dirname(dir) === dir) return undefined;
    }
  }
}

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** Writes `text` to a new file (O_EXCL: no link followed) with exactly `mode` and `owner`, synced. */
function writeNew(path: string, text: string, mode: number, owner: WriteResult["owner"]): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    writeSync(fd, text);
    // The umask may have narrowed the mode: set it exactly, never wider than the original's.
    if (process.platform !== "win32") fchmodSync(fd, mode);
    if (owner) fchownSync(fd, owner.uid, owner.gid);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Copies the current bytes to `<file>.<UTC stamp>.bak`, 0600, never overwriting an earlier backup. */
function backup(snapshot: ConfigFileSnapshot, now: Date, owner: WriteResult["owner"]): string {
  const base = `${snapshot.real}.${stamp(now)}`;
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? `${base}.bak` : `${base}-${n}.bak`;
    try {
      writeNew(candidate, snapshot.text ?? "", 0o600, owner);
      return candidate;
    } catch (err) {
      if (errno(err) === "EEXIST" && n < 100) continue;
      throw new GatewayError("CLIENT_CONFIG", `cannot back up ${snapshot.path} to ${candidate}: ${describeError(err)}`, { cause: err });
    }
  }
}

/** Removes all but the newest BACKUPS_KEPT backups of the file (ours only: `<name>.<stamp>[-n].bak`). */
export function pruneBackups(real: string, keep = BACKUPS_KEPT): string[] {
  const dir = dirname(real);
  const name = basename(real);
  const ours = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(\\d{8}T\\d{6}Z)(?:-(\\d+))?\\.bak$`);
  const found = readdirSync(dir)
    .map((f) => ({ f, m: ours.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => a.m[1]!.localeCompare(b.m[1]!) || Number(a.m[2] ?? 1) - Number(b.m[2] ?? 1));
  const removed = found.slice(0, Math.max(0, found.length - keep)).map((x) => join(dir, x.f));
  for (const file of removed) {
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
  return removed;
}

const RETRYABLE = new Set(["EPERM", "EBUSY", "EACCES"]);

/** Blocks for `ms` without spinning (a CLI command, nothing else to do meanwhile). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Renames, retrying on Windows while another process holds the target open (EPERM/EBUSY/EACCES there are
 * transient: the client, an antivirus or the indexer reading it), with backoff, about 3 s in all.
 */
export function renameWithRetry(from: string, to: string, platform = process.platform, rename = renameSync, sleep = sleepSync): void {
  for (let attempt = 0; ; attempt++) {
    try {
      rename(from, to);
      return;
    } catch (err) {
      if (platform !== "win32" || !RETRYABLE.has(errno(err) ?? "") || attempt >= 7) throw err;
      sleep(25 * 2 ** attempt);
    }
  }
}

function makeDirs(dir: string, owner: WriteResult["owner"]): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!first || !owner) return;
  // Folders root created in the user's home go to the user too, from the deepest down to the first made.
  for (let d = dir; d.length >= first.length; d = dirname(d)) chownSync(d, owner.uid, owner.gid);
}

/**
 * Replaces the file's content atomically, keeping its mode and owner. Order: back up the bytes we read,
 * write the new file beside it, check that the file is still the one we read (inode, size, mtime), rename.
 * The check sits right before the rename so the window in which a client's own save could be lost is as
 * short as it can be; on a change, nothing is replaced, our backup of the older bytes is removed, and
 * ConcurrentChangeError tells the caller to re-plan on the new content.
 */
export function writeConfigFile(snapshot: ConfigFileSnapshot, text: string, now = new Date()): WriteResult {
  const owner = ownerFor(snapshot);
  const dir = dirname(snapshot.real);
  try {
    makeDirs(dir, owner);
  } catch (err) {
    throw new GatewayError("CLIENT_CONFIG", `cannot create ${dir}: ${describeError(err)}`, { cause: err });
  }
  const saved = snapshot.text === undefined ? undefined : backup(snapshot, now, owner);
  const tmp = join(dir, `.${basename(snapshot.real)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    writeNew(tmp, text, snapshot.mode ?? 0o600, owner);
    if (!sameStamp(stampOf(snapshot.real), snapshot.stamp) || (snapshot.text === undefined && stampOf(snapshot.real))) {
      throw new ConcurrentChangeError(`${snapshot.path} changed while it was being edited`);
    }
    renameWithRetry(tmp, snapshot.real);
  } catch (err) {
    for (const f of [tmp, ...(err instanceof ConcurrentChangeError && saved ? [saved] : [])]) {
      try {
        unlinkSync(f);
      } catch {
        // not there
      }
    }
    if (err instanceof ConcurrentChangeError) throw err;
    throw new GatewayError("CLIENT_CONFIG", `cannot write ${snapshot.path}: ${describeError(err)}`, { cause: err });
  }
  pruneBackups(snapshot.real);
  return { backup: saved, owner };
}
