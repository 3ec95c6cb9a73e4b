import { spawn } from "node:child_process";
import { homedir } from "node:os";
import { logger } from "../log.js";

const log = logger("spawn");

/** How to run this same program again: the binary itself, or node plus the script when run from source. */
export function selfCommand(): { command: string; args: string[] } {
  const sea = isSea();
  return sea || !process.argv[1] ? { command: process.execPath, args: [] } : { command: process.execPath, args: [process.argv[1]] };
}

function isSea(): boolean {
  try {
    return (process.getBuiltinModule?.("node:sea") as { isSea(): boolean } | undefined)?.isSea() ?? false;
  } catch {
    return false;
  }
}

/**
 * Starts a primary detached from the caller (own session / process group, no stdio, hidden on Windows), so
 * it outlives the client that caused it and the client's process group signals never reach it.
 */
export function spawnPrimary(): number | undefined {
  const { command, args } = selfCommand();
  const child = spawn(command, [...args, "--primary"], {
    // Not the client's cwd: a long-lived process must not pin a project folder or an unmounted drive.
    cwd: homedir(),
    detached: true,
    stdio: "ignore",
    windowsHide: true,
    env: process.env,
  });
  child.on("error", (err) => log.error(`could not start the primary (${command}): ${err.message}`));
  child.unref();
  log.debug(`started a primary, pid ${child.pid}`);
  return child.pid;
}
