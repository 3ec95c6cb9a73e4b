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

/** A primary this process started: `failed` is set if it exits with an error before anyone connects. */
export interface SpawnedPrimary {
  pid: number | undefined;
  failed?: string;
}

/**
 * Starts a primary detached from the caller (own session / process group, no stdio, hidden on Windows), so
 * it outlives the client that caused it and the client's process group signals never reach it.
 */
export function spawnPrimary(program: { command: string; args: string[]; env?: NodeJS.ProcessEnv } = selfCommand()): SpawnedPrimary {
  const { command, args } = program;
  const child = spawn(command, [...args, "--primary"], {
    // Not the client's cwd: a long-lived process must not pin a project folder or an unmounted drive.
    cwd: homedir(),
    detached: true,
    stdio: "ignore",
    windowsHide: true,
    env: program.env ?? process.env,
  });
  const spawned: SpawnedPrimary = { pid: child.pid };
  child.on("error", (err) => {
    spawned.failed = `could not start ${command}: ${err.message}`;
    log.error(`could not start the primary: ${spawned.failed}`);
  });
  // Exit 0 is a primary that lost the lock race (another one serves); anything else is a failure to start.
  child.on("exit", (code, signal) => {
    if (code !== 0) spawned.failed = `the primary (pid ${child.pid}) exited at start with ${signal ?? `code ${code}`}`;
  });
  child.unref();
  log.debug(`started a primary, pid ${child.pid}`);
  return spawned;
}
