// Issue 4's figures: time from the primary's death (SIGKILL) to the first successful call on a surviving
// session, and the primary's peak RSS while a session that never reads is flooded. Run:
// node --import tsx bench/faults.ts
import { mkdtempSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { sendHello } from "../src/coordination/handshake.js";
import { fmt, INIT, LineProc, machine, median, quantile, writeSection } from "./lib.js";

const KILLS = Number(process.env.BENCH_KILLS ?? 15);
const BIN = resolve("dist/claude-mpm-gateway");

const home = mkdtempSync(join(tmpdir(), "cmg-bench-faults-"));
const env = { PATH: "/usr/bin:/bin", HOME: home, CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: "2000" };
const stateDir = join(home, "mcp");
const primaryPid = () => (JSON.parse(readFileSync(join(stateDir, "gateway.json"), "utf8")) as { pid: number }).pid;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function call(id: number): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { message: "x" } } }) + "\n";
}

async function takeover(): Promise<number[]> {
  const p = new LineProc(BIN, [], env);
  await p.request(0, INIT);
  p.child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
  let id = 1;
  await p.request(id, call(id));
  const times: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const victim = primaryPid();
    const t0 = performance.now();
    process.kill(victim, "SIGKILL");
    // Retry until a call succeeds: the first may be answered with the bridge's "primary lost" error.
    for (;;) {
      const res = (await p.request(++id, call(id))) as { result?: unknown };
      if (res.result) break;
    }
    times.push(performance.now() - t0);
    await sleep(300);
  }
  await p.end();
  return times;
}

async function slowReaderPeak(): Promise<{ peakMiB: number; baseMiB: number }> {
  const keeper = new LineProc(BIN, [], env);
  await keeper.request(0, INIT);
  const pid = primaryPid();
  const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
  const baseMiB = hwm();
  const token = readFileSync(join(stateDir, "gateway.token"), "utf8").trim();
  const hash = createHash("sha256").update(stateDir).digest("hex").slice(0, 16);
  const s = connect(`\0claude-mpm-gateway-${process.getuid!()}-${hash}`.padEnd(108, "\0"));
  s.on("error", () => {});
  await new Promise((r) => s.once("connect", r));
  await sendHello(s, token, "session");
  s.pause();
  const big = "x".repeat(90_000);
  for (let i = 0; i < 1500; i++) {
    s.write(JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "echo", arguments: { message: big } } }) + "\n");
    if (i % 100 === 99) await sleep(50);
  }
  await new Promise((r) => s.once("close", r));
  const peakMiB = hwm();
  await keeper.end();
  return { peakMiB, baseMiB };
}

async function main() {
  const times = await takeover();
  const mem = await slowReaderPeak();
  const body = `${machine()}; ${KILLS} kills.

Primary killed (SIGKILL) → first successful \`tools/call\` on a surviving session (its bridge answers the
lost request, one client starts the next primary, the bridge replays the handshake): median ${fmt(median(times))},
p90 ${fmt(quantile(times, 0.9))}, max ${fmt(Math.max(...times))}.

A session that never reads, flooded with ~130 MiB of answers: dropped at the 64 MiB queue limit; the
primary's peak RSS ${mem.peakMiB.toFixed(0)} MiB (${mem.baseMiB.toFixed(0)} MiB before).`;
  writeSection("Faults (bench/faults.ts)", body);
  console.log(body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
