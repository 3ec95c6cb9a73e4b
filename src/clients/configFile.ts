import { chmodSync, closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, realpathSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileAtomic } from "../coordination/atomicWrite.js";
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
}

/** Thrown when the file changed between our read and our write (the client itself saved it). */
export class ConcurrentChangeError extends Error {
  override readonly name = "ConcurrentChangeError";
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if (errno(err) === "ENOENT") return undefined;
    throw new GatewayError("CLIENT_CONFIG", `cannot read ${path}: ${describeError(err)}`, { cause: err });
  }
}

/** Reads a client config (following a symlink); a missing file reads as undefined. */
export function readConfigFile(path: string): ConfigFileSnapshot {
  let real = path;
  try {
    real = realpathSync(path);
  } catch (err) {
    if (errno(err) !== "ENOENT") throw new GatewayError("CLIENT_CONFIG", `cannot resolve ${path}: ${describeError(err)}`, { cause: err });
  }
  const text = readText(real);
  let mode: number | undefined;
  if (text !== undefined) mode = statSync(real).mode & 0o777;
  return { path, real, text, mode };
}

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * Copies the current bytes to `<file>.<UTC stamp>.bak` with the file's own mode (a client config may hold
 * secrets), never overwriting an earlier backup: the first one is the user's pre-install state.
 */
function backup(snapshot: ConfigFileSnapshot, now: Date): string {
  const base = `${snapshot.real}.${stamp(now)}`;
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? `${base}.bak` : `${base}-${n}.bak`;
    let fd: number;
    try {
      fd = openSync(candidate, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, snapshot.mode ?? 0o600);
    } catch (err) {
      if (errno(err) === "EEXIST" && n < 100) continue;
      throw new GatewayError("CLIENT_CONFIG", `cannot back up ${snapshot.path} to ${candidate}: ${describeError(err)}`, { cause: err });
    }
    try {
      writeSync(fd, snapshot.text ?? "");
      // The umask may have narrowed the mode; it must never be wider than the original's.
      if (process.platform !== "win32" && (fstatSync(fd).mode & 0o777) !== (snapshot.mode ?? 0o600)) chmodSync(candidate, snapshot.mode ?? 0o600);
    } finally {
      closeSync(fd);
    }
    return candidate;
  }
}

/**
 * Replaces the file's content atomically after backing up the old one; returns the backup's path (none for
 * a new file). Throws ConcurrentChangeError, writing nothing, when the file is no longer what was read.
 */
export function writeConfigFile(snapshot: ConfigFileSnapshot, text: string, now = new Date()): string | undefined {
  if (readText(snapshot.real) !== snapshot.text) throw new ConcurrentChangeError(`${snapshot.path} changed while it was being edited`);
  const dir = dirname(snapshot.real);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new GatewayError("CLIENT_CONFIG", `cannot create ${dir}: ${describeError(err)}`, { cause: err });
  }
  const saved = snapshot.text === undefined ? undefined : backup(snapshot, now);
  const mode = snapshot.mode ?? 0o600;
  try {
    writeFileAtomic(snapshot.real, text, mode);
    if (process.platform !== "win32" && (statSync(snapshot.real).mode & 0o777) !== mode) chmodSync(snapshot.real, mode);
  } catch (err) {
    throw new GatewayError("CLIENT_CONFIG", `cannot write ${snapshot.path}: ${describeError(err)}`, { cause: err });
  }
  return saved;
}
