// Smoke test of a built binary on the machine it was built for (the release workflow runs it on every
// runner): --version, --status with no gateway (exit 3), then an MCP client session through a bridge (which
// starts the primary: lock, endpoint, handshake on this OS) and through --standalone, and `stop`.
//
//   node scripts/smoke.mjs dist/claude-mpm-gateway[.exe]
// Dependency-free on purpose: it must judge the binary, not the node_modules next to it.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const bin = process.argv[2] ? resolve(process.argv[2]) : undefined;
if (!bin) {
  console.error("usage: node scripts/smoke.mjs <binary>");
  process.exit(2);
}
const version = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
const home = mkdtempSync(join(tmpdir(), "cmg-smoke-"));
const env = { ...process.env, CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: "20000" };
const t0 = Date.now();

function step(msg) {
  console.log(`smoke: ${msg} (${Date.now() - t0} ms)`);
}

function check(ok, msg) {
  if (!ok) throw new Error(msg);
}

function cli(args, expectedStatus) {
  const r = spawnSync(bin, args, { env, encoding: "utf8", timeout: 30_000 });
  check(r.status === expectedStatus, `${args.join(" ")}: exit ${r.status} (expected ${expectedStatus})\nstdout: ${r.stdout}\nstderr: ${r.stderr}${r.error ? `\n${r.error}` : ""}`);
  return r.stdout;
}

/** One MCP session over stdio with newline-delimited JSON-RPC, as any client speaks it. */
async function session(args) {
  const child = spawn(bin, args, { env, stdio: ["pipe", "pipe", "pipe"], windowsHide: true });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((done) => child.on("exit", (code, signal) => done({ code, signal })));
  const waiting = new Map();
  let buffered = "";
  child.stdout.on("data", (chunk) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line);
      waiting.get(msg.id)?.(msg);
    }
  });
  const request = (id, method, params) =>
    new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`${method}: no answer within 20 s; stderr: ${stderr}`)), 20_000);
      waiting.set(id, (msg) => {
        clearTimeout(timer);
        done(msg);
      });
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    });
  try {
    const init = await request(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "smoke", version } });
    check(init.result?.serverInfo?.name === "claude-mpm-gateway", `initialize: ${JSON.stringify(init)}`);
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
    const list = await request(2, "tools/list", {});
    const names = (list.result?.tools ?? []).map((t) => t.name);
    check(names.includes("echo") && names.includes("calculator"), `tools/list: ${JSON.stringify(names)}`);
    const call = await request(3, "tools/call", { name: "calculator", arguments: { operation: "multiply", a: 6, b: 7 } });
    check(call.result?.structuredContent?.result === 42, `tools/call calculator: ${JSON.stringify(call)}`);
  } finally {
    child.stdin.end();
  }
  const timer = setTimeout(() => child.kill(), 10_000);
  const exit = await exited;
  clearTimeout(timer);
  check(exit.code === 0, `${args.join(" ") || "bridge"} exited ${JSON.stringify(exit)} after stdin closed; stderr: ${stderr}`);
}

async function main() {
  const v = cli(["--version"], 0).trim();
  check(v === version, `--version printed ${JSON.stringify(v)}, expected ${version}`);
  step(`--version: ${v}`);
  cli(["--status"], 3);
  step("--status with no gateway: exit 3");
  await session([]);
  step("bridge: initialize, tools/list, tools/call answered; exit 0 on EOF");
  cli(["status"], 0);
  step("status while the primary lingers: exit 0");
  await session(["--standalone"]);
  step("standalone: initialize, tools/list, tools/call answered; exit 0 on EOF");
  // The 20 s linger keeps the primary up until here even on a slow runner: stop must find it.
  cli(["stop"], 0);
  cli(["--status"], 3);
  step("stop; --status: exit 3");
}

main().then(
  () => {
    rmSync(home, { recursive: true, force: true });
    console.log(`smoke: ${bin} passed`);
  },
  (err) => {
    spawnSync(bin, ["stop"], { env, timeout: 15_000 });
    console.error(`smoke: FAILED: ${err.message}`);
    process.exitCode = 1;
  },
);
