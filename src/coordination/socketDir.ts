// Where the Unix socket files live. The kernel checks a path socket's directory on every connect and bind,
// so a socket in a 0700 dir of ours can be neither reached nor pre-bound by another user: that, not a name
// nobody should guess, is what keeps them out (abstract names had no permission check and were listed in
// /proc/net/unix for anyone to bind first).
import { chmodSync, lstatSync, mkdirSync, type Stats } from "node:fs";
import { isAbsolute, join } from "node:path";
import { GatewayError } from "../errors.js";

/** Bytes of sun_path a path may use, its terminating NUL excluded (Linux 108, macOS 104). */
export function maxSocketPath(platform: NodeJS.Platform): number {
  return platform === "darwin" ? 103 : 107;
}

/** A chosen socket dir: `shared` dirs hold several state dirs' sockets, so names there carry the dir key. */
export interface SocketDir {
  dir: string;
  shared: boolean;
  kind: "runtime" | "state" | "temp";
}

/** What the choice depends on, passed in so every case is unit-testable. */
export interface SocketDirInput {
  platform: NodeJS.Platform;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  tmp: string;
  uid: number;
  lstat?: (path: string) => Pick<Stats, "uid" | "mode" | "isDirectory" | "isSymbolicLink">;
}

/** The longest name created in a socket dir (the takeover guard of the spawn lock), for the length check. */
export function longestSocketName(shared: boolean): string {
  return `${shared ? "0123456789abcdef" : "gateway"}-spawn.sock.takeover`;
}

/**
 * $XDG_RUNTIME_DIR/claude-mpm when $XDG_RUNTIME_DIR is a real 0700 dir of ours (a local tmpfs, emptied at
 * logout and boot, so a stale socket rarely survives, and never on NFS, where a socket file would be seen
 * by other hosts that cannot connect to it); else the 0700 state dir itself; else, for a path too long for
 * sun_path, a 0700 dir of ours under the temp dir.
 */
export function chooseSocketDir(input: SocketDirInput): SocketDir {
  const lstat = input.lstat ?? lstatSync;
  const fits = (dir: string, shared: boolean) => Buffer.byteLength(join(dir, longestSocketName(shared))) <= maxSocketPath(input.platform);
  const xdg = input.env.XDG_RUNTIME_DIR?.trim();
  if (xdg && isAbsolute(xdg) && fits(join(xdg, "claude-mpm"), true)) {
    try {
      const st = lstat(xdg);
      if (st.isDirectory() && !st.isSymbolicLink() && st.uid === input.uid && (st.mode & 0o077) === 0) {
        return { dir: join(xdg, "claude-mpm"), shared: true, kind: "runtime" };
      }
    } catch {
      // not there: fall through
    }
  }
  if (fits(input.stateDir, false)) return { dir: input.stateDir, shared: false, kind: "state" };
  return { dir: join(input.tmp, `claude-mpm-${input.uid}`), shared: true, kind: "temp" };
}

/**
 * Creates `dir` 0700 if missing and proves it is ours: a directory (not a symlink someone planted), owned
 * by us, writable by no one else. A dir of ours that others could only read is narrowed to 0700; one that
 * others could write is refused, since they may have left a socket or a link in it.
 */
export function ensurePrivateDir(dir: string, uid: number): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new GatewayError("STATE_DIR", `cannot create the socket dir ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }
  const st = lstatSync(dir);
  const fix = "remove it, or set XDG_RUNTIME_DIR to a private dir of yours, or a shorter CLAUDE_MPM_HOME";
  if (st.isSymbolicLink()) throw new GatewayError("STATE_DIR", `socket dir ${dir} is a symbolic link: ${fix}`);
  if (!st.isDirectory()) throw new GatewayError("STATE_DIR", `socket dir ${dir} is not a directory: ${fix}`);
  if (st.uid !== uid) throw new GatewayError("STATE_DIR", `socket dir ${dir} belongs to uid ${st.uid}, not to you (uid ${uid}): ${fix}`);
  if ((st.mode & 0o022) !== 0) throw new GatewayError("STATE_DIR", `socket dir ${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)}): ${fix}`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}
