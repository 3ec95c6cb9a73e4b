import { accessSync, chmodSync, constants, lstatSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { GatewayError } from "../errors.js";
import { refuseNonRegular } from "./atomicWrite.js";
import type { StatePaths } from "./paths.js";
import { applyOwnerOnlyAcl } from "./windowsAcl.js";

/** Creates the state dir (0700) and its logs folder, or explains why it cannot be used. */
export function ensureStateDir(paths: StatePaths): void {
  const dir = paths.stateDir;
  let created: string | undefined;
  try {
    created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateDirError(dir, err);
  }
  if (process.platform === "win32" && created) applyOwnerOnlyAcl(dir);
  if (typeof process.getuid === "function") checkAncestors(dir, process.getuid(), process.getgid?.() ?? -1);
  const st = lstatSync(dir);
  if (!st.isDirectory()) {
    throw new GatewayError("STATE_DIR", `${dir} is not a directory: move it away or set CLAUDE_MPM_HOME to another folder`);
  }
  if (process.platform !== "win32") {
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) {
      throw new GatewayError("STATE_DIR", `${dir} belongs to another user (uid ${st.uid}): set CLAUDE_MPM_HOME to a folder of your own`);
    }
    // The dir guards the token and (on macOS) the socket: no one else may list or enter it.
    if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  }
  try {
    accessSync(dir, constants.W_OK);
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateDirError(dir, err);
  }
  // Checked up front so a client hears the reason at once instead of after a primary failed to start.
  for (const file of [paths.instanceFile, paths.tokenFile, paths.lockFile]) {
    try {
      refuseNonRegular(file);
    } catch (err) {
      throw new GatewayError("STATE_DIR", `${(err as Error).message}: remove it (the gateway re-creates it)`, { cause: err });
    }
  }
}

function stateDirError(dir: string, err: unknown): GatewayError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === "EACCES" || code === "EPERM"
      ? "is not writable: fix its permissions or set CLAUDE_MPM_HOME to a writable folder"
      : code === "ENOTDIR" || code === "EEXIST"
        ? "cannot be created because a file stands in its path: move it away or set CLAUDE_MPM_HOME"
        : code === "ENOSPC"
          ? "cannot be written: the disk is full"
          : `cannot be used (${code ?? String(err)})`;
  return new GatewayError("STATE_DIR", `state dir ${dir} ${why}`, { cause: err });
}

/** Every folder above `dir`, outermost first. */
function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = dirname(dir); ; d = dirname(d)) {
    out.unshift(d);
    if (dirname(d) === d) return out;
  }
}

/** Why a folder above the state dir lets someone else swap what is below it, or undefined when it does not. */
export function unsafeAncestor(st: { uid: number; gid: number; mode: number }, uid: number, gid: number): string | undefined {
  const sticky = (st.mode & 0o1000) !== 0;
  if (st.uid !== uid && st.uid !== 0) return `belongs to uid ${st.uid}`;
  if ((st.mode & 0o002) !== 0 && !sticky) return "is writable by every user";
  // A group-writable folder of the user's own primary group is the user-private-group convention.
  if ((st.mode & 0o020) !== 0 && !sticky && st.gid !== gid) return `is writable by group ${st.gid}`;
  return undefined;
}

/**
 * OpenSSH's StrictModes for the state dir: every folder above it, along the path given and along its real
 * path, must belong to the user or root and be writable by no one else (a sticky folder such as /tmp
 * excepted), or another user could rename a folder away and put one of their own in its place.
 */
export function checkAncestors(dir: string, uid: number, gid: number, stat: (p: string) => { uid: number; gid: number; mode: number } = statSync): void {
  const abs = resolve(dir);
  let real = abs;
  try {
    real = realpathSync(abs);
  } catch {
    // checked as given
  }
  for (const folder of new Set([...ancestors(abs), ...ancestors(real)])) {
    let st;
    try {
      st = stat(folder);
    } catch {
      continue;
    }
    const why = unsafeAncestor(st, uid, gid);
    if (why) {
      throw new GatewayError(
        "STATE_DIR",
        `${folder}, above the state dir ${dir}, ${why}: another user could replace the state dir; fix its owner or permissions (chmod go-w) or set CLAUDE_MPM_HOME to a folder only you and root control`,
      );
    }
  }
}
