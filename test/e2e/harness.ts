// Shared by the end-to-end suites: the built binary copied to a folder with no node_modules and no node on
// PATH, a fresh CLAUDE_MPM_HOME per test, a real SDK Client over stdio, and a check that no process is left.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const BUILT = resolve("dist", "claude-mpm-gateway");

/** A copy of the binary in its own empty folder; every process it starts runs that exact file. */
export interface Install {
  dir: string;
  bin: string;
  cleanup(): void;
}

/** Copies the built binary into a fresh temp folder. */
export function installBinary(): Install {
  const dir = mkdtempSync(join(tmpdir(), "cmg-bin-"));
  const bin = join(dir, "claude-mpm-gateway");
  copyFileSync(BUILT, bin);
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
      if (readlinkSync(`/proc/${entry}/exe`) !== bin) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue; // a zombie is already dead
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean).slice(1);
      found.push({ pid: Number(entry), args });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Pids of live primaries of this install. */
export function primaries(bin: string): number[] {
  return processesOf(bin)
    .filter((p) => p.args.includes("--primary"))
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
