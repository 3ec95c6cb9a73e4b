// Shared by the end-to-end suites: the built binary copied to a folder with no node_modules and no node on
// PATH, a fresh CLAUDE_MPM_HOME per test, a real SDK Client over stdio, and a check that no process is left.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const BUILT = resolve("dist", "claude-mpm-gateway");

/** A copy of the binary in its own empty folder; every process it starts runs that exact file. */
export interface Install {
  dir: string;
  bin: string;
  cleanup(): void;
}

/** Copies the built binary (or another build of it, e.g. a cross-built one) into a fresh temp folder. */
export function installBinary(from: string = BUILT): Install {
  const dir = mkdtempSync(join(tmpdir(), "cmg-bin-"));
  const bin = join(dir, "claude-mpm-gateway");
  copyFileSync(from, bin);
  return {
    dir,
    bin,
    cleanup: () => {
      killAll(bin);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh CLAUDE_MPM_HOME. */
export function tempHome(): string {
  return mkdtempSync(join(tmpdir(), "cmg-home-"));
}

/** The environment a client would give the gateway: no node on PATH, our home, a short linger. */
export function gatewayEnv(install: Install, home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: install.dir,
    HOME: home,
    CLAUDE_MPM_HOME: home,
    CLAUDE_MPM_GATEWAY_LINGER_MS: "1500",
    ...extra,
  };
}

/** Result of running the binary to completion. */
export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the binary with arguments and waits for it (bounded). */
export function run(install: Install, home: string, args: string[], extra: Record<string, string> = {}): RunResult {
  const r = spawnSync(install.bin, args, { env: gatewayEnv(install, home, extra), encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the binary without blocking the event loop (needed while this process also holds sockets). */
export function runAsync(install: Install, home: string, args: string[], extra: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawn(install.bin, args, { env: gatewayEnv(install, home, extra) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

/** A connected MCP client, as Claude Desktop would launch the gateway. */
export async function connectClient(
  install: Install,
  home: string,
  args: string[] = [],
  extra: Record<string, string> = {},
): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({ command: install.bin, args, env: gatewayEnv(install, home, extra), stderr: "pipe" });
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

/** Pids of live processes running this install's binary, with their arguments. */
export function processesOf(bin: string): Array<{ pid: number; args: string[] }> {
  const found: Array<{ pid: number; args: string[] }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const exe = readlinkSync(`/proc/${entry}/exe`);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      // An emulated binary (the arm64 build under qemu-user) shows as qemu running it: `qemu-aarch64 <bin>
      // args`, or through binfmt_misc's preserve-argv0 entry `…-binfmt-P <bin> <argv0> args`.
      const emulated = exe !== bin && /^qemu-/.test(basename(exe)) && cmdline[1] === bin;
      // A primary's watchdog on POSIX is `/bin/sh -c <script> <bin> --watchdog <how>` (src/downstream/shellWatchdog.ts).
      const shell = exe !== bin && /^(da|ba|a)?sh$/.test(basename(exe)) && cmdline[1] === "-c" && cmdline[3] === bin && cmdline[4] === "--watchdog";
      if (exe !== bin && !emulated && !shell) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue; // a zombie is already dead
      const args = cmdline.slice(shell ? 4 : !emulated ? 1 : cmdline[0]!.endsWith("-binfmt-P") ? 3 : 2);
      found.push({ pid: Number(entry), args });
    } catch {
      // exited while we looked
    }
  }
  // A child caught between fork and exec (a primary's watchdog or downstream server, a bridge's primary)
  // still shows its parent's exe and command line: it is that parent, not a process of its own. It has one
  // thread, where a Node process that has run its first line has several (V8's platform threads).
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  return found.filter((p) => {
    const parent = found.find((q) => q.pid === parentOf(p.pid));
    return !parent || !same(parent.args, p.args) || threadsOf(p.pid) > 1;
  });
}

/** The number of threads of `pid` (0 once it has exited). */
function threadsOf(pid: number): number {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Pids of live primaries of this install. */
export function primaries(bin: string): number[] {
  return processesOf(bin)
    .filter((p) => p.args.includes("--primary"))
    .map((p) => p.pid);
}

/** Live watchdogs of this install (`--watchdog`: a shell on POSIX, the binary on Windows; one per primary that serves). */
export function watchdogs(bin: string): number[] {
  return processesOf(bin)
    .filter((p) => p.args.includes("--watchdog"))
    .map((p) => p.pid);
}

/** Live bridges of this install: every process of it that is neither a primary nor a primary's watchdog. */
export function bridges(bin: string): number[] {
  return processesOf(bin)
    .filter((p) => !p.args.includes("--primary") && !p.args.includes("--watchdog"))
    .map((p) => p.pid);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` is true, failing after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits until no process of this install is left; kills stragglers and fails if any was found. */
export async function expectNoProcessLeft(bin: string, timeoutMs = 10_000): Promise<void> {
  try {
    await waitFor("every gateway process to exit", () => processesOf(bin).length === 0, timeoutMs);
  } catch (err) {
    const left = processesOf(bin);
    killAll(bin);
    throw new Error(`${(err as Error).message}: left ${JSON.stringify(left)}`, { cause: err });
  }
}

function killAll(bin: string): void {
  for (const p of processesOf(bin)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Stops the primary of `home` if one runs (ignores "not running"). */
export function stopGateway(install: Install, home: string): void {
  run(install, home, ["stop"]);
}

// ---- Coordination helpers: the state dir, the kernel objects that decide who is primary, and status. ----
// (Imports are hoisted; they sit here so this section can be appended without touching the one above.)
import { existsSync } from "node:fs";

/** The state dir of a home, as the gateway resolves it. */
export function stateDirOf(home: string): string {
  return join(resolve(home), "mcp");
}

/** Paths of the files the primary keeps in the state dir. */
export function stateFiles(home: string): { json: string; token: string; lock: string; log: string; config: string } {
  const dir = stateDirOf(home);
  return {
    json: join(dir, "gateway.json"),
    token: join(dir, "gateway.token"),
    lock: join(dir, "gateway.lock"),
    log: join(dir, "logs", "gateway.log"),
    config: join(dir, "config.json"),
  };
}

/** gateway.json parsed, or undefined when there is none. */
export function readGatewayJson(home: string): Record<string, unknown> | undefined {
  const file = stateFiles(home).json;
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
}

/**
 * The socket files of a home's primary on Linux, as the gateway names them when XDG_RUNTIME_DIR is not
 * given (gatewayEnv passes none): in the 0700 state dir, the endpoint being the lock (src/coordination/plan.ts).
 */
export function socketFiles(home: string): { endpoint: string; lock: string; spawn: string } {
  const dir = stateDirOf(home);
  return { endpoint: join(dir, "gateway.sock"), lock: join(dir, "gateway.sock"), spawn: join(dir, "gateway-spawn.sock") };
}

/**
 * Every listening Unix socket path in /proc/net/unix (the kernel shows an abstract name with a leading "@"),
 * as clients reach it: the kernel shows the name a socket was bound to, and a gateway lock is bound to
 * `<file>.<8 hex>` then hard-linked as `<file>` (src/coordination/pathLock.ts), so that suffix is dropped.
 * (The takeover guard's holder listens on `<file>.g<7 hex>`, linked as `<file>.takeover`: not mapped to
 * `<file>`, whose holder it is not.)
 */
export function listeningUnixPaths(): string[] {
  const paths: string[] = [];
  for (const line of readFileSync("/proc/net/unix", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && (parseInt(f[3]!, 16) & 0x10000) !== 0) paths.push(reachedAs(f.slice(7).join(" ")));
  }
  return paths;
}

/** The path a listening socket bound to `bound` is reached by (see listeningUnixPaths). */
function reachedAs(bound: string): string {
  return bound.startsWith("/") ? bound.replace(/\.[0-9a-f]{8}$/, "") : bound;
}

/** `status --json` of a home: its exit code and parsed output. */
export function statusJson(install: Install, home: string): { code: number | null; json: Record<string, unknown> } {
  const r = run(install, home, ["status", "--json"]);
  return { code: r.status, json: JSON.parse(r.stdout) as Record<string, unknown> };
}

/**
 * Pids of processes holding a listening Unix socket bound to `path`: the kernel's own record of who holds
 * the lock or serves the endpoint, read from /proc/net/unix and each process's fds.
 */
export function listenersOf(path: string, pids: number[]): number[] {
  const bound = new Map<string, string>(); // socket inode -> the name it was bound to
  for (const line of readFileSync("/proc/net/unix", "utf8").split("\n").slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is __SO_ACCEPTCON (listening).
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && reachedAs(f[7]!) === path && (parseInt(f[3]!, 16) & 0x10000) !== 0) bound.set(f[6]!, f[7]!);
  }
  // A claimer listens on `<path>.<8 hex>` first and only then links `path` to it (pathLock.ts): until it has,
  // and after it lost (link: EEXIST) until its close unlinks that name, it listens under a name that maps to
  // `path` but is not reached as `path`: its name is still a file of its own, another inode than `path`'s.
  // Seen under load for tens of ms beside the real holder, which the samplers counted as two holders. The
  // holder's name is gone (unlinked once linked) or is `path`'s inode. Checked before the fds are read: a
  // loser's name is gone only once its close has begun, and its fd is closed right after.
  const reached = inodeOf(path);
  for (const [inode, name] of bound) {
    const own = name === path ? undefined : inodeOf(name);
    if (own !== undefined && own !== reached) bound.delete(inode);
  }
  const inodes = new Set(bound.keys());
  if (inodes.size === 0) return [];
  const holders: number[] = [];
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) {
          holders.push(pid);
          break;
        }
      }
    } catch {
      // exited while we looked
    }
  }
  // A primary's child caught between fork and exec (its watchdog, a downstream server starting) still has
  // the primary's exe, command line and every fd; close-on-exec drops the socket at exec and the child never
  // accepts on it. It shares its parent's socket, it is not a second holder.
  return holders.filter((pid) => !holders.includes(parentOf(pid)));
}

/** The inode of the file at `path` itself (not followed), or undefined when there is none. */
function inodeOf(path: string): bigint | undefined {
  return lstatSync(path, { bigint: true, throwIfNoEntry: false })?.ino;
}

/** The parent pid of `pid`, from /proc (0 once it has exited). */
function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

/** True while a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** Kills every process of this install (after a failed test, so the next one starts clean). */
export function killProcessesOf(bin: string): void {
  killAll(bin);
}

/** The pid of the primary serving `home`, as it answers `status` (a loser of a start race never answers). */
export function servingPid(install: Install, home: string): number {
  const r = run(install, home, ["status", "--json"]);
  if (r.status !== 0) throw new Error(`status exited ${r.status}: ${r.stdout}${r.stderr}`);
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

/**
 * Waits until the live primaries of this install are exactly `pids`. A primary that lost the race for the
 * lock exits at once, but on a loaded machine "at once" can take a moment to be seen.
 */
export async function expectPrimaries(bin: string, pids: number[], timeoutMs = 5000): Promise<void> {
  const want = JSON.stringify([...pids].sort());
  try {
    await waitFor(`primaries to be ${want}`, () => JSON.stringify(primaries(bin).sort()) === want, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}, got ${JSON.stringify(primaries(bin))}`, { cause: err });
  }
}

/** Echoes a unique message through a client and checks it comes back. */
export async function echoThrough(client: Client, message: string): Promise<void> {
  const r = await client.callTool({ name: "echo", arguments: { message } });
  assert.deepEqual(r.content, [{ type: "text", text: message }]);
}
