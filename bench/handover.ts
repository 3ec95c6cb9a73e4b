// Handover (issue 14): how long `restart` takes with three reference servers running and three clients
// calling them in loops, and the longest pause a client's call sees while it happens. The servers must keep
// their pids and no call may fail. Run: node --import tsx bench/handover.ts   Knobs: BENCH_RUNS (default 7).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmt, INIT, LineProc, machine, median, quantile, writeSection } from "./lib.js";
import { abandon, BIN, envFor, expectNoneLeft, homes, INITIALIZED, line, loadavg, primaryPid, seen, serverSpecs, sleep, stopGateway, trees, writeConfig } from "./kit.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const CALLS: Array<[string, Record<string, unknown>]> = [
  ["everything__echo", { message: "ping" }],
  ["memory__read_graph", {}],
  ["filesystem__list_allowed_directories", {}],
];

interface Call {
  start: number;
  end: number;
  ok: boolean;
}

/** One client calling one tool in a loop, one call in flight, noting each call's start, end and outcome. */
function loop(p: LineProc, tool: string, args: Record<string, unknown>, calls: Call[], until: () => boolean): Promise<void> {
  let id = 1000;
  return (async () => {
    while (!until()) {
      const start = performance.now();
      const r = (await p.request(++id, line("tools/call", { name: tool, arguments: args }, id))) as { error?: unknown; result?: { isError?: boolean } };
      calls.push({ start, end: performance.now(), ok: !r.error && !r.result?.isError });
    }
  })();
}

function restart(env: NodeJS.ProcessEnv): Promise<{ ms: number; out: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(BIN, ["restart"], { env }, (err, stdout) => (err ? reject(err) : resolve({ ms: performance.now() - t0, out: stdout }))),
  );
}

function downstreamPids(env: NodeJS.ProcessEnv): Promise<Record<string, number>> {
  return new Promise((resolve, reject) =>
    execFile(BIN, ["status", "--json"], { env }, (err, stdout) => {
      if (err) return reject(err);
      const s = JSON.parse(stdout) as { downstream: Array<{ name: string; pid: number }> };
      resolve(Object.fromEntries(s.downstream.map((d) => [d.name, d.pid])));
    }),
  );
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const scratch = mkdtempSync(join(tmpdir(), "cmg-bench-handover-"));
  const home = join(scratch, "home");
  homes.push(home);
  const specs = serverSpecs(scratch);
  writeConfig(home, { ...specs, everything: { ...specs.everything, startTimeoutMs: 60_000 } });
  const env = envFor(home);
  const clients = CALLS.map(() => new LineProc(BIN, [], env));
  for (const c of clients) {
    await c.request(0, INIT);
    c.child.stdin.write(INITIALIZED);
  }
  const calls: Call[][] = CALLS.map(() => []);
  let done = false;
  const loops = clients.map((c, i) => loop(c, CALLS[i]![0], CALLS[i]![1], calls[i]!, () => done));
  await sleep(3000);
  const pids = await downstreamPids(env);
  for (const pid of trees([primaryPid(home)])) seen.add(pid);
  const took: number[] = [];
  const pause: number[] = [];
  const baseline: number[] = [];
  let failed = 0;
  for (let run = 0; run < RUNS; run++) {
    const before = calls.map((c) => c.length);
    await sleep(1000);
    const t0 = performance.now();
    const r = await restart(env);
    const t1 = performance.now();
    await sleep(1000);
    seen.add(primaryPid(home));
    took.push(r.ms);
    if (!/servers kept running: /.test(r.out)) throw new Error(`not a handover: ${r.out}`);
    const window = calls.flatMap((c, i) => c.slice(before[i]));
    // Every call that was in flight at any moment between the restart's start and its end.
    const during = window.filter((c) => c.end >= t0 && c.start <= t1);
    pause.push(Math.max(...during.map((c) => c.end - c.start)));
    baseline.push(...window.filter((c) => c.end < t0 - 0 || c.start > t1).map((c) => c.end - c.start));
    failed += window.filter((c) => !c.ok).length;
  }
  done = true;
  await Promise.all(loops);
  const after = await downstreamPids(env);
  for (const c of clients) await c.end();
  stopGateway(home);
  await expectNoneLeft();
  const same = JSON.stringify(after) === JSON.stringify(pids);
  const total = calls.reduce((n, c) => n + c.length, 0);
  const log = readFileSync(join(home, "mcp", "logs", "gateway.log"), "utf8");
  const inside = [...log.matchAll(/handed over to pid \d+ in (\d+) ms after its hello \(drain (\d+) ms\)/g)].map((m) => Number(m[1]));
  const hello = [...log.matchAll(/which said hello in (\d+) ms/g)].map((m) => Number(m[1]));
  // From the old primary telling the bridges to move to the last of them being served by the next one.
  const moved: number[] = [];
  for (const m of log.matchAll(/^(\S+) INFO +\[primary:\d+\] primary: handing over to pid (\d+)/gm)) {
    const opened = [...log.matchAll(new RegExp(`^(\\S+) INFO +\\[primary:${m[2]}\\] primary: session opened \\(${CALLS.length} connected\\)`, "gm"))][0];
    if (opened) moved.push(Date.parse(opened[1]!) - Date.parse(m[1]!));
  }
  const body = `${machine()}; ${RUNS} handovers of one gateway running everything, memory and filesystem, while 3 clients (one per
server) call a tool in a loop, one call in flight each. Load average (1/5/15 min) ${loadBefore} at the start, ${loadavg()} at the end.

| what | median | max |
|---|---|---|
| \`restart\`: command start → exit (next primary started, servers and sessions moved, old primary gone) | ${fmt(median(took))} | ${fmt(Math.max(...took))} |
| of which the next primary's start (spawn → its hello) | ${fmt(median(hello))} | ${fmt(Math.max(...hello))} |
| of which the handover proper (hello → sessions moved: drain, lock, pipes, adoption) | ${fmt(median(inside))} | ${fmt(Math.max(...inside))} |
| bridges told to move → all ${CALLS.length} sessions open on the next primary (from the log) | ${fmt(median(moved))} | ${fmt(Math.max(...moved))} |
| longest call in flight during a restart (the pause a client sees) | ${fmt(median(pause))} | ${fmt(Math.max(...pause))} |
| a call outside the restarts (p50 / p99) | ${fmt(median(baseline))} | ${fmt(quantile(baseline, 0.99))} (p99) |

${total} calls, ${failed} failed; the servers' pids ${same ? "were the same after every handover" : `CHANGED: ${JSON.stringify(pids)} → ${JSON.stringify(after)}`}.
Before its hello the next primary only starts; the old one serves as usual meanwhile. From the hello, the old primary tells
the bridges to move: a call made from then on waits in its bridge until the next primary serves it (drain, lock, pipes,
adoption, the bridge's reconnect and a legacy client's replayed handshake). The longest call also pays for whatever else the
two cores were doing: the machine was loaded (see the load average), which slows every step here, the start of the next
primary most.
`;
  writeSection("Handover: restart with running servers (bench/handover.ts)", body);
  process.stdout.write(body);
}

main().catch(abandon);
