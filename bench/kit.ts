// What the benchmarks of calls through processes share: a line-JSON-RPC client per process, closed-loop
// throughput windows, CPU per call from /proc, process trees and their memory, the three reference servers,
// and the proof that no process is left. BENCH_SECONDS sets the length of one throughput window (default 2);
// BENCH_BIN another gateway binary than dist/claude-mpm-gateway (a build of another commit, to compare).
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { INIT, LineProc, median } from "./lib.js";

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
export const WARMUP = 2000;
export const BIN = resolve(process.env.BENCH_BIN ?? "dist/claude-mpm-gateway");
export const pkg = (name: string) => resolve("node_modules", "@modelcontextprotocol", name, "dist", "index.js");
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The state dirs this run used, to stop their gateways if it fails. */
export const homes: string[] = [];

/** Every pid this script started or found in a tree it started, to prove at the end that none is left. */
export const seen = new Set<number>();

export function envFor(home: string): NodeJS.ProcessEnv {
  return { PATH: "/usr/bin:/bin", HOME: home, CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: "500" };
}

export type ServerName = "everything" | "memory" | "filesystem";
export interface Spec {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** Config entries for the three reference servers, run by this machine's node as the e2e tests do. */
export function serverSpecs(scratch: string): Record<ServerName, Spec> {
  mkdirSync(join(scratch, "files"), { recursive: true });
  return {
    everything: { command: process.execPath, args: [pkg("server-everything")] },
    memory: { command: process.execPath, args: [pkg("server-memory")], env: { MEMORY_FILE_PATH: join(scratch, "memory.jsonl") } },
    filesystem: { command: process.execPath, args: [pkg("server-filesystem"), join(scratch, "files")] },
  };
}

export function writeConfig(home: string, servers: Record<string, unknown>): void {
  mkdirSync(join(home, "mcp"), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, "mcp", "config.json"), JSON.stringify({ mcpServers: servers }, null, 2), { mode: 0o600 });
}

let nextId = 1;
export const line = (method: string, params: unknown, id: number) => JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n";
export const INITIALIZED = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n";

export interface Reply {
  result?: { tools?: Array<{ name: string }>; content?: Array<{ text?: string }>; isError?: boolean };
  error?: unknown;
}

export async function rpc(p: LineProc, method: string, params: unknown): Promise<Reply> {
  const id = nextId++;
  return (await p.request(id, line(method, params, id))) as Reply;
}

/** A client of a process speaking MCP on stdio, calling one tool that echoes. */
export class Client {
  readonly proc: LineProc;
  constructor(
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    readonly tool: string,
    readonly answer = "Echo: ping",
  ) {
    this.proc = new LineProc(command, args, env);
    seen.add(this.proc.child.pid!);
  }
  async init(): Promise<void> {
    const r = await rpc(this.proc, "initialize", (JSON.parse(INIT) as { params: unknown }).params);
    if (!r.result) throw new Error(`initialize failed: ${JSON.stringify(r)}`);
    this.proc.child.stdin.write(INITIALIZED);
  }
  /** Names of the tools served, once `want` is among them (the primary starts downstream servers lazily). */
  async waitForTool(want: string, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const names = (await rpc(this.proc, "tools/list", {})).result?.tools?.map((t) => t.name) ?? [];
      if (names.includes(want)) return names;
      if (Date.now() > deadline) throw new Error(`${want} not served; tools: ${names.join(", ")}`);
      await sleep(100);
    }
  }
  /** One echo call; throws unless it came back as sent. */
  async call(): Promise<void> {
    const r = await rpc(this.proc, "tools/call", { name: this.tool, arguments: { message: "ping" } });
    if (r.result?.content?.[0]?.text !== this.answer) throw new Error(`${this.tool}: ${JSON.stringify(r)}`);
  }
  async warm(n = WARMUP): Promise<void> {
    for (let i = 0; i < n; i++) await this.call();
  }
  /** Milliseconds of each of `n` sequential calls. */
  async latencies(n: number): Promise<number[]> {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await this.call();
      xs.push(performance.now() - t0);
    }
    return xs;
  }
  end(): Promise<void> {
    return this.proc.end();
  }
}

/** Calls made and seconds taken by `clients` calling in a closed loop for SECONDS, each keeping `inflight`
 * calls outstanding (1: the next call goes when the last is answered, as an agent's tool calls do). */
export async function window(clients: Client[], inflight = 1, seconds = SECONDS): Promise<{ calls: number; seconds: number }> {
  const t0 = performance.now();
  const stop = t0 + seconds * 1000;
  const counts = await Promise.all(
    clients.flatMap((c) =>
      Array.from({ length: inflight }, async () => {
        let n = 0;
        while (performance.now() < stop) {
          await c.call();
          n++;
        }
        return n;
      }),
    ),
  );
  return { calls: counts.reduce((a, b) => a + b, 0), seconds: (performance.now() - t0) / 1000 };
}

/** Calls per second of one window. */
export async function throughput(clients: Client[], inflight = 1): Promise<number> {
  const w = await window(clients, inflight);
  return w.calls / w.seconds;
}

/** Runs `a` and `b` in ABBA order over the runs, so a drift in the machine's load hits both alike. */
export async function pair(r: number, a: () => Promise<void>, b: () => Promise<void>): Promise<void> {
  if (r % 2 === 0) {
    await a();
    await b();
  } else {
    await b();
    await a();
  }
}

/** User and system CPU time of a process, in clock ticks (100 Hz). */
export function ticks(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(f[11]), sys: Number(f[12]) };
}

/** CPU milliseconds per call (all, and in the kernel) of each group of processes and of this bench process
 * ("client") over one more throughput window. */
export async function cpuPerCall(clients: Client[], groups: Record<string, number[]>, inflight = 1): Promise<Record<string, { all: number; sys: number }>> {
  const cpuOf = (pids: number[]) => pids.map(ticks).reduce((a, t) => ({ user: a.user + t.user, sys: a.sys + t.sys }), { user: 0, sys: 0 });
  const before = Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, cpuOf(v)]));
  const self0 = process.cpuUsage();
  const { calls } = await window(clients, inflight);
  const self = process.cpuUsage(self0);
  const perCall: Record<string, { all: number; sys: number }> = {};
  for (const [k, v] of Object.entries(groups)) {
    const now = cpuOf(v);
    const user = now.user - before[k]!.user;
    const sys = now.sys - before[k]!.sys;
    perCall[k] = { all: ((user + sys) * 10) / calls, sys: (sys * 10) / calls };
  }
  perCall.client = { all: (self.user + self.system) / 1000 / calls, sys: self.system / 1000 / calls };
  return perCall;
}

/** pid → ppid of every process, from /proc. */
export function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      m.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  return m;
}

/** The given pids and all their descendants, each once. */
export function trees(roots: number[]): number[] {
  const pp = parents();
  const out = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of pp)
      if (out.has(ppid) && !out.has(pid)) {
        out.add(pid);
        grew = true;
      }
  }
  for (const p of out) seen.add(p);
  return [...out];
}

export interface Mem {
  rss: number;
  anon: number;
  file: number;
  /** Proportional set size: each shared page divided among the processes mapping it, so sums add up. */
  pss: number;
  procs: number;
}

/** VmRSS / RssAnon / RssFile + RssShmem / Pss (MiB) of one process. */
export function one(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string, text = s) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) / 1024;
  const pss = kb("Pss", readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") + kb("RssShmem"), pss, procs: 1 };
}

/** Summed memory of the process trees under `roots`, each process once. */
export function treeMem(roots: number[]): Mem {
  return trees(roots)
    .map(one)
    .reduce((a, x) => ({ rss: a.rss + x.rss, anon: a.anon + x.anon, file: a.file + x.file, pss: a.pss + x.pss, procs: a.procs + 1 }), {
      rss: 0, anon: 0, file: 0, pss: 0, procs: 0,
    });
}

/** Median (per field) of a few samples taken 300 ms apart: Node's heaps move with the GC. */
export async function sampledMem(roots: () => number[], n = 5): Promise<Mem> {
  const xs: Mem[] = [];
  for (let i = 0; i < n; i++) {
    xs.push(treeMem(roots()));
    await sleep(300);
  }
  const m = (key: keyof Mem) => median(xs.map((x) => x[key]));
  return { rss: m("rss"), anon: m("anon"), file: m("file"), pss: m("pss"), procs: xs[0]!.procs };
}

export function primaryPid(home: string): number {
  return (JSON.parse(readFileSync(join(home, "mcp", "gateway.json"), "utf8")) as { pid: number }).pid;
}

/** `stop`; exit 3 (none running) is fine: with a short linger the primary may have gone already. */
export function stopGateway(home: string): void {
  try {
    execFileSync(BIN, ["stop"], { env: envFor(home), stdio: "ignore" });
  } catch (err) {
    if ((err as { status?: number }).status !== 3) throw err;
  }
}

/** True while a pid this script saw still runs (not a zombie) and still is the gateway or a reference
 * server (so a reused pid is never taken for ours). */
export function ours(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false;
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmd.includes(BIN) || cmd.includes(resolve("node_modules/@modelcontextprotocol/server-")) || cmd.includes(resolve("bench/relay"));
  } catch {
    return false;
  }
}

/** Waits until no process this script saw is alive (zombies count as gone); kills and fails otherwise. */
export async function expectNoneLeft(): Promise<void> {
  const alive = () => [...seen].filter(ours);
  const deadline = Date.now() + 10_000;
  while (alive().length > 0 && Date.now() < deadline) await sleep(100);
  const left = alive();
  if (left.length > 0) {
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    throw new Error(`processes left behind: ${left.join(" ")}`);
  }
}

export const mib = (x: number) => `${x.toFixed(0)} MiB`;
export const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)} %`;
/** "median (min–max)" over the runs. */
export const spread = (xs: number[], f: (x: number) => string) => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
export const perSec = (x: number) => x.toFixed(0);
export const ms = (x: number) => x.toFixed(x < 1 ? 3 : 2);
export const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");


/** After a failed run: stops this run's gateways, kills any process it saw that is still ours, exits 1. */
export function abandon(err: unknown): never {
  console.error(err);
  for (const h of homes) {
    try {
      stopGateway(h);
    } catch {
      // none running
    }
  }
  for (const pid of [...seen].filter(ours)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  process.exit(1);
}
