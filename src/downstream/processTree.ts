import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import crossSpawn from "cross-spawn";
import { serverEnv } from "./baseEnv.js";

const WINDOWS = process.platform === "win32";

/** Told of every server process group started and ended in this process (the primary's record and watchdog). */
export interface GroupTracker {
  started(pid: number, label: string): void;
  ended(pid: number): void;
}

let tracker: GroupTracker | undefined;

/** Sets (or clears) the one tracker of this process: the primary's guard over its downstream processes. */
export function trackGroups(t: GroupTracker | undefined): void {
  tracker = t;
}

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
  const child = crossSpawn(spec.command, spec.args, {
    // A fixed base plus the server's own env: never the environment of the client that started the primary.
    env: serverEnv(spec.env),
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
    stdio: ["pipe", "pipe", "pipe"],
    // On Windows `detached` would open a console window; the tree is stopped with taskkill /T there.
    detached: !WINDOWS,
    windowsHide: true,
  }) as ChildProcessWithoutNullStreams;
  if (child.pid !== undefined) tracker?.started(child.pid, [spec.command, ...spec.args.slice(0, 1)].join(" "));
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True while any process of the group led by `pid` exists (POSIX) and, on Linux, is not a zombie. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
  } catch (err) {
    // EPERM: it exists but is not ours to signal (cannot happen for our own children, but it is alive).
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed member whose new parent (init, a subreaper) has not reaped it yet still answers signal 0.
  return process.platform !== "linux" || hasLiveMember(pid);
}

function hasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // After the command name: state, ppid, pgrp.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z" && state !== "X") return true;
    } catch {
      // exited while we looked
    }
  }
  return false;
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
  await stopTree(child, pid, graceMs);
  tracker?.ended(pid);
}

async function stopTree(child: ChildProcessWithoutNullStreams, pid: number, graceMs: number): Promise<void> {
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

/**
 * Ends recorded process groups of servers this process did not start itself (a killed primary's, told to
 * the watchdog or found in the record): only those whose leader `isOurs` says is still the process
 * recorded. SIGTERM to each group, SIGKILL after `graceMs` (Windows: `taskkill /T /F` on the tree's root).
 * Resolves with how many groups were ended.
 */
export async function endGroups<G extends { pid: number }>(groups: G[], isOurs: (g: G) => boolean, graceMs: number): Promise<number> {
  const ours = groups.filter(isOurs);
  if (WINDOWS) {
    await Promise.all(
      ours.map(
        (g) =>
          new Promise<void>((done) => {
            const killer = spawn("taskkill", ["/T", "/F", "/PID", String(g.pid)], { stdio: "ignore", windowsHide: true });
            killer.on("error", () => done());
            killer.on("exit", () => done());
          }),
      ),
    );
    return ours.length;
  }
  // Proven ours just now: while any member lives, the kernel cannot give the group's id to anyone else.
  for (const g of ours) signalGroup(g.pid, "SIGTERM");
  if (await waitUntil(() => ours.every((g) => !groupAlive(g.pid)), graceMs)) return ours.length;
  for (const g of ours) if (groupAlive(g.pid)) signalGroup(g.pid, "SIGKILL");
  await waitUntil(() => ours.every((g) => !groupAlive(g.pid)), 1000);
  return ours.length;
}

/**
 * Stops a server this process adopted (a previous primary started it and handed it over, so it is not our
 * child and no exit event comes): its stdin was closed by the caller; the group gets a moment to exit, then
 * SIGTERM and SIGKILL after `graceMs`, only while `stillOurs` proves the recorded leader is the process.
 */
export async function stopAdopted<G extends { pid: number }>(group: G, stillOurs: (g: G) => boolean, graceMs: number): Promise<void> {
  if (!WINDOWS && !(await waitUntil(() => !groupAlive(group.pid), Math.min(500, graceMs)))) await endGroups([group], stillOurs, graceMs);
  tracker?.ended(group.pid);
}
