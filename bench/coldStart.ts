// Cold start of the primary (issue 16, item 4), with the three reference servers configured, for one or
// more builds of the binary interleaved in one run (BENCH_BASE=<another binary> adds it as "base"):
// - primary alone: the bench spawns `--primary` itself, as a bridge does (detached, no stdio), and polls
//   every 2 ms as a session (token, connect, hello) until admitted, then sends `initialize`: spawn →
//   listening (its log), → initialize answered ("ready"), → the first downstream server spawned and → all
//   three running (its log); the primary's CPU time (user+system, /proc) when ready, which the machine's
//   load does not stretch as it does wall time;
// - cold first client: a client launches the binary with no primary running: launch → initialize answered,
//   → a complete tool list (every tool of the three servers); against the client launching the three
//   servers itself (launch → the slowest's tools/list answered).
// Run: node --import tsx bench/coldStart.ts   Knobs: BENCH_RUNS (default 9), BENCH_BASE, BENCH_BINS,
// BENCH_WRITE=1 (writes its section into bench/RESULTS.md).
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Socket } from "node:net";
import { coordinatesFor, tryConnect } from "../src/coordination/client.js";
import { statePaths } from "../src/coordination/paths.js";
import { fmt, INIT, machine, median, writeSection } from "./lib.js";
import { Client, envFor, loadavg, rpc, serverSpecs, sleep, writeConfig, type ServerName } from "./kit.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
// BENCH_BINS=label=path,label=path,… compares any builds instead.
const BINS: Record<string, string> = process.env.BENCH_BINS
  ? Object.fromEntries(process.env.BENCH_BINS.split(",").map((kv) => [kv.slice(0, kv.indexOf("=")), resolve(kv.slice(kv.indexOf("=") + 1))]))
  : { now: resolve("dist/claude-mpm-gateway"), ...(process.env.BENCH_BASE ? { base: resolve(process.env.BENCH_BASE) } : {}) };
const ALL: ServerName[] = ["everything", "memory", "filesystem"];
const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

const scratch = mkdtempSync(join(tmpdir(), "cmg-bench-coldstart-"));
const specs = serverSpecs(scratch);

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** Every live descendant of `pid` (the servers, the watchdog), found by their parent pid. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) {
      if (pp !== p) continue;
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
};

/** `stop`, then waits (bounded) until the primary and every process it started are gone; kills and fails otherwise. */
async function stopAll(bin: string, home: string, pids: number[]): Promise<void> {
  try {
    execFileSync(bin, ["stop"], { env: envFor(home), stdio: "ignore" });
  } catch {
    // exit 3: none running (lingered out)
  }
  const deadline = Date.now() + 15_000;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
  const left = pids.filter(alive);
  for (const pid of left) process.kill(pid, "SIGKILL");
  if (left.length) throw new Error(`left running: ${left.join(" ")}`);
}

/** Milliseconds from `t0` (a Date.now()) to the first log line matching `what`, or NaN. */
function logAt(home: string, what: string | RegExp, t0: number): number {
  const l = readFileSync(join(home, "mcp", "logs", "gateway.log"), "utf8")
    .split("\n")
    .find((x) => (typeof what === "string" ? x.includes(what) : what.test(x)));
  return l ? Date.parse(l.slice(0, 24)) - t0 : NaN;
}

function freshHome(): string {
  const home = mkdtempSync(join(scratch, "home-"));
  writeConfig(home, specs);
  return home;
}

type Sample = Record<string, number>;
const samples: Record<string, Sample[]> = {};
const push = (k: string, s: Sample) => (samples[k] ??= []).push(s);

/** The bench spawns the primary as a bridge would and is its first session. */
async function primaryAlone(label: string, bin: string): Promise<void> {
  const home = freshHome();
  const env = envFor(home);
  const paths = statePaths(env);
  const coords = coordinatesFor(paths, env);
  const t0 = Date.now();
  const p0 = performance.now();
  const child = spawn(bin, ["--primary"], { cwd: home, detached: true, stdio: "ignore", env });
  child.unref();
  const pid = child.pid!;
  let socket: Socket | undefined;
  const deadline = Date.now() + 30_000;
  while (!socket) {
    if (Date.now() > deadline) throw new Error(`${label}: the primary never admitted a session`);
    socket = (await tryConnect(coords, "session", 10_000).catch(() => null))?.socket;
    if (!socket) await sleep(2);
  }
  const admitted = performance.now() - p0;
  const answered = new Promise<void>((r) => {
    let buf = "";
    socket.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      if (buf.includes("\n")) r();
    });
    socket.resume();
  });
  socket.write(INIT);
  await answered;
  const ready = performance.now() - p0;
  const cpu = cpuMs(pid);
  // Every server running (as the log says), bounded.
  const until = Date.now() + 30_000;
  while (Date.now() < until && ALL.some((s) => Number.isNaN(logAt(home, `${s}: running`, t0)))) await sleep(20);
  const running = Math.max(...ALL.map((s) => logAt(home, `${s}: running`, t0)));
  const pids = [pid, ...descendants(pid)];
  socket.destroy();
  push(`alone ${label}`, { admitted, ready, cpu, listening: logAt(home, " listening on ", t0), firstStart: logAt(home, /: starting \(|: process started early/, t0), running });
  await stopAll(bin, home, pids);
}

/** A client launching the binary with no primary running, until its tool list is complete. */
async function coldClient(label: string, bin: string, counts: Record<ServerName, number>): Promise<void> {
  const home = freshHome();
  const env = envFor(home);
  const t0 = Date.now();
  const p0 = performance.now();
  const c = new Client(bin, [], env, "");
  await c.init();
  const init = performance.now() - p0;
  for (const deadline = Date.now() + 30_000; ; ) {
    const names = (await rpc(c.proc, "tools/list", {})).result?.tools?.map((t) => t.name) ?? [];
    if (ALL.every((s) => names.filter((n) => n.startsWith(`${s}__`)).length >= counts[s])) break;
    if (Date.now() > deadline) throw new Error(`${label}: the tool list never completed`);
    await sleep(5);
  }
  const list = performance.now() - p0;
  const pid = (JSON.parse(readFileSync(join(home, "mcp", "gateway.json"), "utf8")) as { pid: number }).pid;
  const cpu = cpuMs(pid);
  const pids = [pid, ...descendants(pid)];
  push(`cold ${label}`, { init, list, cpu, listening: logAt(home, " listening on ", t0) });
  await c.end();
  await stopAll(bin, home, pids);
}

/** The client launching the three servers itself. */
async function direct(counts: Record<ServerName, number>): Promise<void> {
  const p0 = performance.now();
  const cs = ALL.map((s) => ({ s, c: new Client(specs[s].command, specs[s].args, { ...envFor(scratch), ...(specs[s].env ?? {}) }, "") }));
  await Promise.all(
    cs.map(async ({ s, c }) => {
      await c.init();
      counts[s] = (await rpc(c.proc, "tools/list", {})).result?.tools?.length ?? 0;
    }),
  );
  push("direct", { list: performance.now() - p0 });
  await Promise.all(cs.map(({ c }) => c.end()));
}

const loadBefore = loadavg();
const counts: Record<ServerName, number> = { everything: 0, memory: 0, filesystem: 0 };
await direct(counts); // learns the tool counts
samples.direct = [];
const jobs: Array<() => Promise<void>> = [() => direct(counts)];
for (const [label, bin] of Object.entries(BINS)) jobs.push(() => primaryAlone(label, bin), () => coldClient(label, bin, counts));
for (let r = 0; r < RUNS; r++) for (let j = 0; j < jobs.length; j++) await jobs[(r + j) % jobs.length]!();
rmSync(scratch, { recursive: true, force: true });

const med = (k: string, f: string) => median((samples[k] ?? []).map((s) => s[f]!).filter((x) => !Number.isNaN(x)));
const range = (k: string, f: string) => {
  const xs = (samples[k] ?? []).map((s) => s[f]!).filter((x) => !Number.isNaN(x));
  return `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
};
const labels = Object.keys(BINS);
const header = `| | ${labels.join(" | ")} |\n|---|${labels.map(() => "---|").join("")}`;
const row = (name: string, k: string, f: string) => `| ${name} | ${labels.map((l) => range(`${k} ${l}`, f)).join(" | ")} |`;
const body = `${machine()}; ${RUNS} runs, builds and setups interleaved (rotating order), each from a fresh CLAUDE_MPM_HOME; medians (range).
Load average (1/5/15 min) ${loadBefore} at the start, ${loadavg()} at the end. Builds: ${labels.map((l) => `*${l}* ${BINS[l]}`).join(", ")}.

The primary alone (spawned by the bench as a bridge spawns it; the bench its first session, polling every 2 ms):

${header}
${row("spawn → listening (its log)", "alone", "listening")}
${row("spawn → session admitted", "alone", "admitted")}
${row(`spawn → initialize answered (ready)`, "alone", "ready")}
${row("primary CPU when ready (user+system)", "alone", "cpu")}
${row("spawn → first server starting (its log)", "alone", "firstStart")}
${row("spawn → all three servers running (its log)", "alone", "running")}

Cold first client (client launch, no primary running → a complete tool list of the three servers):

${header}
${row(`launch → initialize answered`, "cold", "init")}
${row("launch → complete tool list", "cold", "list")}
${row("launch → primary listening (its log)", "cold", "listening")}
${row("primary CPU at the complete list", "cold", "cpu")}

Direct (the client launching the three servers itself → the slowest's \`tools/list\` answered): ${range("direct", "list")}.
Ratio gateway / direct: ${labels.map((l) => `*${l}* ${(med(`cold ${l}`, "list") / med("direct", "list")).toFixed(2)}×`).join(", ")}.
`;
if (process.env.BENCH_WRITE) writeSection("Cold start of the primary (bench/coldStart.ts)", body);
process.stdout.write(body);
console.log("\nper run:", JSON.stringify(samples, (_k, v: unknown) => (typeof v === "number" ? Number(v.toFixed(1)) : v)));
