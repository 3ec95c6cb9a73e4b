// The SDK v2 move and both protocol eras (issue 9): the binary just before the move (SDK 1.x, BEFORE_REF), the
// move itself (PORT_REF) and the current tree, interleaved: bundle and binary size, bridge start, tools/call
// round trips through the bridge and --standalone, and the modern era's round trip.
// Run: node --import tsx bench/eras.ts
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fmt, INIT, LineProc, machine, median, quantile, spawnToInit, writeSection } from "./lib.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
/** The last commit on main before the SDK v2 port, and the port (the same code on v2, 2025 era only). */
const BEFORE_REF = process.env.BEFORE_REF ?? "bc13b7c^";
const PORT_REF = process.env.PORT_REF ?? "bc13b7c";
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" },
};

interface Build {
  bin: string;
  bundle: string;
}

/** Builds a commit in a temporary worktree sharing this checkout's node_modules and Node cache. */
function buildRef(ref: string): Build {
  const dir = mkdtempSync(join(tmpdir(), "cmg-bench-ref-"));
  const tree = join(dir, "tree");
  execFileSync("git", ["worktree", "add", "--detach", "--quiet", tree, ref]);
  try {
    symlinkSync(resolve("node_modules"), join(tree, "node_modules"));
    rmSync(join(tree, ".cache"), { force: true });
    symlinkSync(resolve(".cache"), join(tree, ".cache"));
    execFileSync(process.execPath, ["build.mjs", "--quiet"], { cwd: tree, stdio: ["ignore", "ignore", "inherit"] });
    const out: Build = { bin: join(dir, "claude-mpm-gateway"), bundle: join(dir, "gateway.cjs") };
    execFileSync("cp", [join(tree, "dist", "claude-mpm-gateway"), out.bin]);
    execFileSync("cp", [join(tree, "dist", "gateway.cjs"), out.bundle]);
    return out;
  } finally {
    execFileSync("git", ["worktree", "remove", "--force", tree]);
  }
}

function envFor(home: string): NodeJS.ProcessEnv {
  return { PATH: "/usr/bin:/bin", HOME: home, CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: "30000" };
}

const legacyCall = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { message: "ping" } } }) + "\n";
const modernCall = (id: number) =>
  JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { message: "ping" }, _meta: META } }) + "\n";

/** A session opened and warmed up (200 calls); modern opens with server/discover instead of initialize. */
async function opened(bin: string, args: string[], env: NodeJS.ProcessEnv, era: "legacy" | "modern"): Promise<{ p: LineProc; line: (id: number) => string }> {
  const p = new LineProc(bin, args, env);
  if (era === "legacy") {
    await p.request(0, INIT);
    p.child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
  } else {
    await p.request(0, JSON.stringify({ jsonrpc: "2.0", id: 0, method: "server/discover", params: { _meta: META } }) + "\n");
  }
  const line = era === "legacy" ? legacyCall : modernCall;
  for (let i = 1; i <= 200; i++) await p.request(i, line(i));
  return { p, line };
}

/** Round trips of `tools/call` echo on every session, interleaved in batches of 100 so load hits all alike. */
async function latencies(sessions: Record<string, { p: LineProc; line: (id: number) => string }>): Promise<Record<string, number[]>> {
  const xs: Record<string, number[]> = Object.fromEntries(Object.keys(sessions).map((k) => [k, []]));
  for (let batch = 0; batch < CALLS / 100; batch++) {
    for (const [k, { p, line }] of Object.entries(sessions)) {
      for (let i = 0; i < 100; i++) {
        const id = 1000 + batch * 100 + i;
        const t0 = performance.now();
        await p.request(id, line(id));
        xs[k]!.push(performance.now() - t0);
      }
    }
  }
  await Promise.all(Object.values(sessions).map(({ p }) => p.end()));
  return xs;
}

const kib = (file: string) => statSync(file).size / 1024;
const pct = (after: number, before: number) => `${after >= before ? "+" : ""}${(((after - before) / before) * 100).toFixed(1)} %`;

type Key = "before" | "port" | "now";
const KEYS: Key[] = ["before", "port", "now"];

async function main() {
  execFileSync(process.execPath, ["build.mjs", "--quiet"], { stdio: ["ignore", "ignore", "inherit"] });
  const builds: Record<Key, Build> = {
    before: buildRef(BEFORE_REF),
    port: buildRef(PORT_REF),
    now: { bin: resolve("dist/claude-mpm-gateway"), bundle: resolve("dist/gateway.cjs") },
  };
  const homes = Object.fromEntries(KEYS.map((k) => [k, mkdtempSync(join(tmpdir(), `cmg-bench-${k}-`))])) as Record<Key, string>;
  // One client each keeps its primary up for the warm bridge starts.
  const keepers = Object.fromEntries(KEYS.map((k) => [k, new LineProc(builds[k].bin, [], envFor(homes[k]))])) as Record<Key, LineProc>;
  await Promise.all(KEYS.map((k) => keepers[k].request(0, INIT)));

  const start = Object.fromEntries(KEYS.map((k) => [k, [] as number[]])) as Record<Key, number[]>;
  const solo = Object.fromEntries(KEYS.map((k) => [k, [] as number[]])) as Record<Key, number[]>;
  for (let i = 0; i < RUNS; i++) {
    for (const k of KEYS) {
      start[k].push(await spawnToInit(builds[k].bin, [], envFor(homes[k])));
      solo[k].push(await spawnToInit(builds[k].bin, ["--standalone"], envFor(homes[k])));
    }
  }
  const sessions: Record<string, { p: LineProc; line: (id: number) => string }> = {};
  for (const k of KEYS) {
    sessions[`bridge-${k}`] = await opened(builds[k].bin, [], envFor(homes[k]), "legacy");
    sessions[`solo-${k}`] = await opened(builds[k].bin, ["--standalone"], envFor(homes[k]), "legacy");
  }
  sessions["bridge-modern"] = await opened(builds.now.bin, [], envFor(homes.now), "modern");
  sessions["solo-modern"] = await opened(builds.now.bin, ["--standalone"], envFor(homes.now), "modern");
  const calls = await latencies(sessions);
  const bridgeCalls = Object.fromEntries(KEYS.map((k) => [k, calls[`bridge-${k}`]!])) as Record<Key, number[]>;
  const soloCalls = Object.fromEntries(KEYS.map((k) => [k, calls[`solo-${k}`]!])) as Record<Key, number[]>;
  const bridgeModern = calls["bridge-modern"]!;
  const soloModern = calls["solo-modern"]!;
  for (const k of KEYS) {
    await keepers[k].end();
    execFileSync(builds[k].bin, ["stop"], { env: envFor(homes[k]) });
  }

  const p50 = (xs: number[]) => quantile(xs, 0.5);
  const p99 = (xs: number[]) => quantile(xs, 0.99);
  const row = (what: string, v: (k: Key) => number, f: (n: number) => string) =>
    `| ${what} | ${f(v("before"))} | ${f(v("port"))} | ${pct(v("port"), v("before"))} | ${f(v("now"))} |`;
  const size = (n: number) => `${n.toFixed(0)} KiB`;
  const mib = (n: number) => `${(n / 1024).toFixed(1)} MiB`;
  const body = `${machine()}; median of ${RUNS} interleaved runs; ${CALLS} sequential \`tools/call\` of \`echo\` per
session after 200 warm-up calls, the sessions taking turns in batches of 100. *before* = ${BEFORE_REF} (\`@modelcontextprotocol/sdk\` 1.32.2), *v2 port* = ${PORT_REF} (the
same code on \`@modelcontextprotocol/server\`, \`/client\`, \`/core\` 2.4.0), *now* = this tree (both eras per
session, and whatever else landed since: OAuth, profiles, HTTP, …). The move is the *before* → *v2 port* column.

| what | before | v2 port | move | now |
|---|---|---|---|---|
${row("bundle (dist/gateway.cjs)", (k) => kib(builds[k].bundle), size)}
${row("binary", (k) => kib(builds[k].bin), mib)}
${row("bridge start, primary up (spawn → initialize answered)", (k) => median(start[k]), fmt)}
${row("--standalone start (spawn → initialize answered)", (k) => median(solo[k]), fmt)}
${row("tools/call p50, --standalone", (k) => p50(soloCalls[k]), fmt)}
${row("tools/call p50, bridge → primary", (k) => p50(bridgeCalls[k]), fmt)}
${row("added by the bridge, p50", (k) => p50(bridgeCalls[k]) - p50(soloCalls[k]), fmt)}
${row("tools/call p99, bridge → primary", (k) => p99(bridgeCalls[k]), fmt)}

The modern era (2026-07-28: server/discover, then each request with its \`_meta\` envelope), now:
tools/call p50 ${fmt(p50(soloModern))} on --standalone, ${fmt(p50(bridgeModern))} through the bridge
(added ${fmt(p50(bridgeModern) - p50(soloModern))}); p99 ${fmt(p99(bridgeModern))} through the bridge.

Why figures moved: the **bundle** grows with the SDK v2 because \`/server\` and \`/client\` each compile their own
protocol layer (with the codecs of both protocol eras) and the schemas come as one package; the bridge never
loads it (lazy boundary), so **bridge start** does not move, and the **binary** grows by well under 1 %.
**--standalone start** loads the bundle: the move costs what its larger parse costs (the *move* column);
the rest of *now* is what else landed since. Round trips under a millisecond swing by tens of percent between
runs on this shared 2-core machine even interleaved (the *v2 port* and *now* columns run the same session
code and differ about as much as either differs from *before*); the bridge's own cost (*added by the
bridge*) is the figure to watch, and it stays within a tenth of a millisecond of *before*.`;
  writeSection("SDK v2 and both protocol eras (bench/eras.ts)", body);
  console.log(body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
