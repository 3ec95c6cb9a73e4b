import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import crossSpawn from "cross-spawn";
import { serverEnv } from "./baseEnv.js";

const WINDOWS = process.platform === "win32";

/** How a stdio server is started. */
export interface SpawnSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

/**
 * Starts a server in its own process group (POSIX: setsid via `detached`), so stopping it reaches every
 * process it started (npx → node → server), not only the one we know the pid of. Pipes on all three fds:
 * its stdout is the protocol, its stderr our log, never our own stdout.
 */
export function spawnGroup(spec: SpawnSpec): ChildProcessWithoutNullStreams {
  // cross-spawn, as clients use it: on Windows a config's "npx" or "uvx" is a .cmd shim that a plain spawn
  // cannot start (ENOENT); elsewhere it is child_process.spawn unchanged.
  return crossSpawn(spec.command, spec.args, {
    // A fixed base plus the server's own env: never the environment of the client that started the primary.
    env: serverEnv(spec.env),
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
    stdio: ["pipe", "pipe", "pipe"],
    // On Windows `detached` would open a console window; the tree is stopped with taskkill /T there.
    detached: !WINDOWS,
    windowsHide: true,
  }) as ChildProcessWithoutNullStreams;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True while any process of the group led by `pid` exists (POSIX). */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is not ours to signal (cannot happen for our own children, but it is alive).
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(25);
  }
  return check();
}

/**
 * Stops a server's whole process tree, bounded: close its stdin (the MCP way to ask a stdio server to
 * exit), then SIGTERM to the group, then SIGKILL after `graceMs`. Also reaps what a crashed server left
 * behind in its group. Windows: `taskkill /T /F`.
 */
export async function killTree(child: ChildProcessWithoutNullStreams, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  if (WINDOWS) {
    if (exited()) return;
    child.stdin.end();
    if (await waitUntil(exited, Math.min(500, graceMs))) return;
    const killer = spawn("taskkill", ["/T", "/F", "/PID", String(pid)], { stdio: "ignore", windowsHide: true });
    killer.on("error", () => child.kill("SIGKILL"));
    await waitUntil(exited, graceMs);
    return;
  }
  if (!exited()) {
    child.stdin.end();
    await waitUntil(exited, Math.min(500, graceMs));
  }
  if (!groupAlive(pid)) return;
  signalGroup(pid, "SIGTERM");
  if (await waitUntil(() => !groupAlive(pid), graceMs)) return;
  signalGroup(pid, "SIGKILL");
  await waitUntil(() => !groupAlive(pid), 1000);
}
