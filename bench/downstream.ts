// Downstream servers behind the gateway (issue 5): `tools/call` of server-everything's `echo` through
// bridge → primary → server-everything against a client talking to server-everything directly (latency at
// 1 client, throughput at 1 and 10 clients), and the total memory of 3 clients × 3 reference servers with
// the gateway against without it. Run: node --import tsx bench/downstream.ts
// Knobs: BENCH_RUNS (repeats, default 5), BENCH_CALLS (sequential calls per path per run, default 1000),
// BENCH_SECONDS (length of one throughput window, default 2), BENCH_WARM_SECONDS (warm-up of each 10-client
// setup, default 10).
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmt, machine, median, quantile, writeSection } from "./lib.js";
import {
  abandon, BIN, Client, cpuPerCall, envFor, expectNoneLeft, homes, loadavg, mib, ms, one, pair, pct, perSec, primaryPid, rpc, sampledMem,
  serverSpecs, sleep, spread, stopGateway, throughput, trees, WARMUP, window, writeConfig, SECONDS, type Mem, type ServerName,
} from "./kit.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const WARM_SECONDS = Number(process.env.BENCH_WARM_SECONDS ?? 10);
const BLOCK = 100;
const PIPE = 16;
const CLIENTS = 10;

type PathName = "direct" | "gw" | "standalone" | "builtin";

async function main() {
  const t0 = Date.now();
  const loadBefore = loadavg();

  // --- 1. echo: direct, bridge → primary → server, and two paths that split the gateway's cost. ---
  const scratch = mkdtempSync(join(tmpdir(), "cmg-bench-down-"));
  const home = join(scratch, "home");
  homes.push(home);
  const specs = serverSpecs(scratch);
  writeConfig(home, { everything: specs.everything });
  const env = envFor(home);
  const everything = () => new Client(specs.everything.command, specs.everything.args, env, "echo");

  const paths: Record<PathName, Client> = {
    direct: everything(),
    gw: new Client(BIN, [], env, "everything__echo"),
    // --standalone: the same gateway code and downstream hop with no bridge and no IPC socket.
    standalone: new Client(BIN, ["--standalone"], env, "everything__echo"),
    // The built-in echo through bridge → primary: the gateway with no downstream hop.
    builtin: new Client(BIN, [], env, "echo", "ping"),
  };
  await Promise.all(Object.values(paths).map((c) => c.init()));
  const exported = (await paths.gw.waitForTool("everything__echo")).filter((n) => n.startsWith("everything") && n.endsWith("echo"));
  await paths.standalone.waitForTool("everything__echo");
  for (const c of Object.values(paths)) await c.warm();
  const primary1 = primaryPid(home);
  const downstream1 = trees([primary1]).filter((p) => p !== primary1);

  const names = Object.keys(paths) as PathName[];
  const p50 = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Record<PathName, number[]>;
  const p99 = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Record<PathName, number[]>;
  const tp1 = { direct: [] as number[], gw: [] as number[] };
  const tpPipe = { direct: [] as number[], gw: [] as number[] };
  for (let r = 0; r < RUNS; r++) {
    // Blocks of BLOCK calls per path in rotating order, so every path meets the same load during a run.
    const xs = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Record<PathName, number[]>;
    for (let b = 0; b < Math.ceil(CALLS / BLOCK); b++)
      for (let i = 0; i < names.length; i++) {
        const k = names[(b + i) % names.length]!;
        xs[k].push(...(await paths[k].latencies(BLOCK)));
      }
    for (const k of names) {
      p50[k].push(quantile(xs[k], 0.5));
      p99[k].push(quantile(xs[k], 0.99));
    }
    await pair(
      r,
      async () => void tp1.direct.push(await throughput([paths.direct])),
      async () => void tp1.gw.push(await throughput([paths.gw])),
    );
    await pair(
      r,
      async () => void tpPipe.direct.push(await throughput([paths.direct], PIPE)),
      async () => void tpPipe.gw.push(await throughput([paths.gw], PIPE)),
    );
  }
  const cpu1 = {
    direct: await cpuPerCall([paths.direct], { server: [paths.direct.proc.child.pid!] }),
    gw: await cpuPerCall([paths.gw], { bridge: [paths.gw.proc.child.pid!], primary: [primary1], server: downstream1 }),
  };
  const cpuPipe = {
    direct: await cpuPerCall([paths.direct], { server: [paths.direct.proc.child.pid!] }, PIPE),
    gw: await cpuPerCall([paths.gw], { bridge: [paths.gw.proc.child.pid!], primary: [primary1], server: downstream1 }, PIPE),
  };

  // 10 clients, each with its own process: 10 bridges (one primary, one server) against 10 servers.
  const directs = Array.from({ length: CLIENTS }, everything);
  const bridges = Array.from({ length: CLIENTS }, () => new Client(BIN, [], env, "everything__echo"));
  await Promise.all([...directs, ...bridges].map((c) => c.init()));
  // Warm up by time, one setup after the other: ten Node processes JIT-compile on two cores, and ten direct
  // servers reach their steady rate only after ~10 s of calls (measured: 3000/s rising to 13000/s).
  await window(directs, 1, WARM_SECONDS);
  await window(bridges, 1, WARM_SECONDS);
  const tp10 = { direct: [] as number[], gw: [] as number[] };
  for (let r = 0; r < RUNS; r++)
    await pair(
      r,
      async () => void tp10.direct.push(await throughput(directs)),
      async () => void tp10.gw.push(await throughput(bridges)),
    );
  const cpu10 = {
    direct: await cpuPerCall(directs, { servers: directs.map((c) => c.proc.child.pid!) }),
    gw: await cpuPerCall(bridges, { bridges: bridges.map((c) => c.proc.child.pid!), primary: [primary1], server: downstream1 }),
  };
  await Promise.all([...directs, ...bridges, ...Object.values(paths)].map((c) => c.end()));
  stopGateway(home);
  await expectNoneLeft();
  const loadMid = loadavg();

  // --- 2. Memory: 3 clients × 3 servers, with and without the gateway. ---
  const home2 = join(scratch, "home2");
  homes.push(home2);
  writeConfig(home2, specs);
  const env2 = envFor(home2);
  const servers = Object.keys(specs) as ServerName[];
  const probe: Record<ServerName, [string, unknown]> = {
    everything: ["echo", { message: "ping" }],
    memory: ["read_graph", {}],
    filesystem: ["list_allowed_directories", {}],
  };
  // The same light use on both sides: initialize, tools/list, one call of each server.
  const use = async (c: Client, s: ServerName, prefixed: boolean) => {
    const r = await rpc(c.proc, "tools/call", { name: prefixed ? `${s}__${probe[s][0]}` : probe[s][0], arguments: probe[s][1] });
    if (!r.result || r.result.isError) throw new Error(`${s}: ${JSON.stringify(r)}`);
  };
  const gwClients = Array.from({ length: 3 }, () => new Client(BIN, [], env2, ""));
  await Promise.all(gwClients.map((c) => c.init()));
  for (const c of gwClients) for (const s of servers) await c.waitForTool(`${s}__${probe[s][0]}`);
  for (const c of gwClients) for (const s of servers) await use(c, s, true);
  const primary2 = primaryPid(home2);
  await sleep(1000);
  const withGw = await sampledMem(() => [...gwClients.map((c) => c.proc.child.pid!), primary2]);
  const gwParts = {
    bridge: one(gwClients[0]!.proc.child.pid!),
    primary: one(primary2),
    servers: trees([primary2])
      .filter((p) => p !== primary2)
      .map((p) => ({ name: /server-(\w+)/.exec(readFileSync(`/proc/${p}/cmdline`, "utf8"))?.[1] ?? String(p), mem: one(p) })),
  };
  await Promise.all(gwClients.map((c) => c.end()));
  stopGateway(home2);

  const directServers = Array.from({ length: 3 }, () =>
    servers.map((s) => ({ s, c: new Client(specs[s].command, specs[s].args, { ...env2, ...(specs[s].env ?? {}) }, "") })),
  ).flat();
  await Promise.all(
    directServers.map(async ({ s, c }) => {
      await c.init();
      await rpc(c.proc, "tools/list", {});
      await use(c, s, false);
    }),
  );
  await sleep(1000);
  const withoutGw = await sampledMem(() => directServers.map(({ c }) => c.proc.child.pid!));
  const directParts = directServers.slice(0, 3).map(({ s, c }) => ({ name: s, mem: one(c.proc.child.pid!) }));
  await Promise.all(directServers.map(({ c }) => c.end()));
  await expectNoneLeft();

  // --- Report ---
  const added = p50.gw.map((g, i) => g - p50.direct[i]!);
  const ratio = (t: { direct: number[]; gw: number[] }) => median(t.gw) / median(t.direct);
  const ok = (b: boolean) => (b ? "met" : "**missed**");
  const cpuRow = (label: string, c: Record<string, { all: number; sys: number }>) => {
    const procs = Object.entries(c).filter(([k]) => k !== "client");
    const sum = (key: "all" | "sys") => procs.reduce((a, [, v]) => a + v[key], 0).toFixed(3);
    const cell = (v: { all: number; sys: number }) => `${v.all.toFixed(3)} (${v.sys.toFixed(3)})`;
    return `| ${label} | ${procs.map(([k, v]) => `${k} ${cell(v)}`).join(", ")} | ${sum("all")} (${sum("sys")}) | ${cell(c.client!)} |`;
  };
  const serverCpu = (c: Record<string, { all: number }>) => Object.entries(c).reduce((a, [k, v]) => a + (k === "client" ? 0 : v.all), 0);
  const cpuRatio = (x: { direct: Record<string, { all: number }>; gw: Record<string, { all: number }> }) => (serverCpu(x.gw) / serverCpu(x.direct)).toFixed(1);
  const memRow = (label: string, x: Mem) => `| ${label} | ${x.procs} | ${mib(x.rss)} | ${mib(x.anon)} | ${mib(x.file)} |`;
  const memList = (xs: Array<{ name: string; mem: Mem }>) => xs.map((x) => `${x.name} ${mib(x.mem.rss)} (${mib(x.mem.anon)})`).join(", ");
  const body = `${machine()}; the reference servers run on Node ${process.versions.node} on both sides. Load average
(1/5/15 min) ${loadBefore} at the start, ${loadMid} after the latency part, ${loadavg()} at the end: above 2 the
machine's two cores were shared with other work and the figures are noisy (hence the ranges over runs).

\`tools/call\` of server-everything's \`echo\` (exported by the gateway as ${exported.map((n) => `\`${n}\``).join(", ")}); median
over ${RUNS} runs, each run's range in parentheses. Latency: ${CALLS} sequential calls per path per run after
${WARMUP} warm-up calls, the paths interleaved in blocks of ${BLOCK}. Throughput: each client calls for ${SECONDS} s in a
closed loop with one call in flight (as an agent does), or ${PIPE} in flight (pipelined), direct and gateway
windows in ABBA order, the ${CLIENTS}-client setups each warmed up for ${WARM_SECONDS} s first; every client is driven by this one
bench process.

| path | p50 (ms) | p99 (ms) |
|---|---|---|
| client → server-everything (direct) | ${spread(p50.direct, ms)} | ${spread(p99.direct, ms)} |
| client → bridge → primary → server-everything | ${spread(p50.gw, ms)} | ${spread(p99.gw, ms)} |
| client → \`--standalone\` → server-everything (no bridge) | ${spread(p50.standalone, ms)} | ${spread(p99.standalone, ms)} |
| client → bridge → primary, built-in \`echo\` (no downstream) | ${spread(p50.builtin, ms)} | ${spread(p99.builtin, ms)} |

| calls/s | direct | gateway | gateway / direct |
|---|---|---|---|
| 1 client, 1 in flight | ${spread(tp1.direct, perSec)} | ${spread(tp1.gw, perSec)} | ${pct(ratio(tp1), 1)} |
| 1 client, ${PIPE} in flight | ${spread(tpPipe.direct, perSec)} | ${spread(tpPipe.gw, perSec)} | ${pct(ratio(tpPipe), 1)} |
| ${CLIENTS} clients, 1 in flight each (${CLIENTS} servers / ${CLIENTS} bridges + 1 server) | ${spread(tp10.direct, perSec)} | ${spread(tp10.gw, perSec)} | ${pct(ratio(tp10), 1)} |

Added by the gateway at p50: ${spread(added, fmt)} (target ≤ 0.5 ms: ${ok(median(added) <= 0.5)}). Throughput against direct
(target ≥ 90 %): 1 client ${ok(ratio(tp1) >= 0.9)}, pipelined ${ok(ratio(tpPipe) >= 0.9)}, ${CLIENTS} clients ${ok(ratio(tp10) >= 0.9)}.
Split of the added p50: bridge and IPC hop ${fmt(median(p50.gw) - median(p50.standalone))} (bridge path − standalone), the
primary's downstream hop ${fmt(median(p50.standalone) - median(p50.direct))} (standalone − direct); the bridge → primary
round trip alone answers the built-in echo in ${fmt(median(p50.builtin))}.

CPU time per call, ms of user+system (of it in the kernel: pipe and socket I/O, wake-ups), from /proc/<pid>/stat
in 10 ms ticks over one more ${SECONDS} s window each; "client" is this bench process:

| setup | per process | sum of servers' side | client |
|---|---|---|---|
${cpuRow("direct, 1 client", cpu1.direct)}
${cpuRow("gateway, 1 client", cpu1.gw)}
${cpuRow(`direct, 1 client, ${PIPE} in flight`, cpuPipe.direct)}
${cpuRow(`gateway, 1 client, ${PIPE} in flight`, cpuPipe.gw)}
${cpuRow(`direct, ${CLIENTS} clients`, cpu10.direct)}
${cpuRow(`gateway, ${CLIENTS} clients`, cpu10.gw)}

The servers' side of the gateway path costs ${cpuRatio(cpu1)}× the direct path's CPU per call at 1 client, ${cpuRatio(cpuPipe)}× pipelined
and ${cpuRatio(cpu10)}× at ${CLIENTS} clients: two more processes each wake, read, parse and write every message. Where the cores
are the limit (pipelined, ${CLIENTS} clients on 2 cores) throughput follows CPU per call; with one call in flight it
is the inverse of the round trip, so a ratio of 90 % would allow ~10 % added latency.

Memory of 3 clients × 3 servers (server-everything, server-memory, server-filesystem), each client after
\`initialize\`, \`tools/list\` and one call of each server; process trees summed from /proc, median of 5 samples:

| setup | processes | VmRSS | private (RssAnon) | file-backed + shmem |
|---|---|---|---|---|
${memRow("without the gateway: 9 servers", withoutGw)}
${memRow("with the gateway: 3 bridges + primary + 3 servers", withGw)}

VmRSS counts the pages of a shared executable once per process (the bridges and the primary map the same
gateway binary; every server maps the same node), so the private part is the fairer figure: it is what
each process adds. Total memory below the gateway-less setup: VmRSS ${ok(withGw.rss < withoutGw.rss)} (${mib(withGw.rss)} against
${mib(withoutGw.rss)}), private ${ok(withGw.anon < withoutGw.anon)} (${mib(withGw.anon)} against ${mib(withoutGw.anon)}).
VmRSS (private) per process with the gateway: bridge ${mib(gwParts.bridge.rss)} (${mib(gwParts.bridge.anon)}), primary ${mib(gwParts.primary.rss)} (${mib(gwParts.primary.anon)}),
${memList(gwParts.servers)}; without: ${memList(directParts)}.
Run time ${((Date.now() - t0) / 1000).toFixed(0)} s.`;
  writeSection("Downstream (bench/downstream.ts)", body);
  console.log(body);
  console.log("\nper run:", JSON.stringify({ p50, p99, tp1, tpPipe, tp10 }, (_k, v: unknown) => (typeof v === "number" ? Number(v.toFixed(3)) : v)));
}

main().catch(abandon);
