// Cold first client (issue 10): from a client launching the gateway with no primary running to the answer
// of its first tools/list, which now holds every tool of the three reference servers (the list waits for
// servers still starting). Against it: the same three servers launched directly by a client, in parallel,
// until the slowest has answered its own tools/list (what a client without the gateway waits for).
// Run: node --import tsx bench/coldList.ts   Knobs: BENCH_RUNS (default 7).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { fmt, INIT, LineProc, machine, median, writeSection } from "./lib.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const BIN = resolve("dist/claude-mpm-gateway");
const pkg = (name: string) => resolve("node_modules", "@modelcontextprotocol", name, "dist", "index.js");
const LIST = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list", params: {} }) + "\n";
const INITIALIZED = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n";

function specs(scratch: string): Record<string, { command: string; args: string[]; env?: Record<string, string> }> {
  mkdirSync(join(scratch, "files"), { recursive: true });
  return {
    everything: { command: process.execPath, args: [pkg("server-everything")] },
    memory: { command: process.execPath, args: [pkg("server-memory")], env: { MEMORY_FILE_PATH: join(scratch, "memory.jsonl") } },
    filesystem: { command: process.execPath, args: [pkg("server-filesystem"), join(scratch, "files")] },
  };
}

/** Spawn → initialize → tools/list answered; returns the time and the tool names of that first list. */
async function firstList(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; names: string[] }> {
  const t0 = performance.now();
  const p = new LineProc(command, args, env);
  await p.request(0, INIT);
  p.child.stdin.write(INITIALIZED);
  const r = (await p.request(1, LIST(1))) as { result?: { tools?: Array<{ name: string }> } };
  const ms = performance.now() - t0;
  await p.end();
  return { ms, names: (r.result?.tools ?? []).map((t) => t.name) };
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
const loadBefore = load();
const gateway: number[] = [];
const direct: number[] = [];
const counts: number[] = [];
let complete = 0;
for (let run = 0; run < RUNS; run++) {
  const home = mkdtempSync(join(tmpdir(), "cmg-bench-cold-"));
  const servers = specs(home);
  mkdirSync(join(home, "mcp"), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, "mcp", "config.json"), JSON.stringify({ mcpServers: servers }));
  const env = { PATH: "/usr/bin:/bin", HOME: home, CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: "200" };
  const g = await firstList(BIN, [], env);
  gateway.push(g.ms);
  counts.push(g.names.length);
  if (Object.keys(servers).every((s) => g.names.some((n) => n.startsWith(`${s}__`)))) complete++;
  spawnSync(BIN, ["stop"], { env });
  const d = await Promise.all(Object.values(servers).map((s) => firstList(s.command, s.args, { PATH: "/usr/bin:/bin", HOME: home, ...s.env })));
  direct.push(Math.max(...d.map((x) => x.ms)));
}

const body = `${machine()}; ${RUNS} runs, each from a fresh CLAUDE_MPM_HOME with no primary running. Load average
(1/5/15 min) ${loadBefore} at the start, ${load()} at the end (above 2 the two cores were shared: the times are noisy,
the ratio less so).

| cold first client | median | range |
|---|---|---|
| gateway: spawn → first \`tools/list\` answered (bridge starts the primary, which starts 3 servers) | ${fmt(median(gateway))} | ${fmt(Math.min(...gateway))}–${fmt(Math.max(...gateway))} |
| direct: the 3 servers spawned in parallel → the slowest's \`tools/list\` answered | ${fmt(median(direct))} | ${fmt(Math.min(...direct))}–${fmt(Math.max(...direct))} |

The gateway's first list held every tool of all three servers in ${complete} of ${RUNS} runs (${median(counts)} tools, built-ins
included); before the list waited for servers still starting, it held only the 5 built-ins. Ratio gateway / direct:
${(median(gateway) / median(direct)).toFixed(2)}.
`;
writeSection("Cold first client: a complete tool list (bench/coldList.ts)", body);
process.stdout.write(body);
