import { accessSync, chmodSync, constants, lstatSync, mkdirSync } from "node:fs";
import { GatewayError } from "../errors.js";
import { refuseNonRegular } from "./atomicWrite.js";
import type { StatePaths } from "./paths.js";

/** Creates the state dir (0700) and its logs folder, or explains why it cannot be used. */
export function ensureStateDir(paths: StatePaths): void {
  const dir = paths.stateDir;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateDirError(dir, err);
  }
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
