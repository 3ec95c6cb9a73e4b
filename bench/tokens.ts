// Context cost of tools/list (issue 12): estimated tokens of what a client is listed for the reference
// servers, with all tools, a filtered profile and search mode; and what counting costs the binary.
// Run: node --import tsx bench/tokens.ts (after node build.mjs)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { fmt, machine, median, rssMiB, writeSection } from "./lib.js";

const BIN = resolve("dist/claude-mpm-gateway");
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const pkg = (name: string) => resolve("node_modules", "@modelcontextprotocol", name, "dist", "index.js");
const tmp = mkdtempSync(join(tmpdir(), "cmg-bench-tokens-"));
const SERVERS: Record<string, unknown> = {
  everything: { command: process.execPath, args: [pkg("server-everything")] },
  memory: { command: process.execPath, args: [pkg("server-memory")], env: { MEMORY_FILE_PATH: join(tmp, "memory.json") } },
  filesystem: { command: process.execPath, args: [pkg("server-filesystem"), tmp] },
};
/** What a user would keep of each server for a coding client: the read side, plus echo to test with. */
const FILTERED: Record<string, string[]> = {
  everything: ["everything__echo", "everything__get-sum"],
  memory: ["memory__*"],
  filesystem: ["filesystem__read_*", "filesystem__list_*", "filesystem__search_files", "filesystem__get_file_info"],
};
const EXCLUDE = ["*__delete_*"];

interface Estimate {
  tools: Array<{ name: string; tokens: number }>;
  total: number;
}

function estimate(home: string, profile?: string): Estimate {
  const args = ["tools", "--tokens", "--json", ...(profile ? ["--profile", profile] : [])];
  const out = execFileSync(BIN, args, { env: { PATH: "/usr/bin:/bin", HOME: home, CLAUDE_MPM_HOME: home }, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return JSON.parse(out) as Estimate;
}

function homeFor(servers: string[]): string {
  const home = join(tmp, servers.join("+") || "none");
  mkdirSync(join(home, "mcp"), { recursive: true });
  const profiles = {
    filtered: { tools: servers.flatMap((s) => FILTERED[s]!), exclude: EXCLUDE },
    search: { search: true },
  };
  writeFileSync(join(home, "mcp", "config.json"), JSON.stringify({ mcpServers: Object.fromEntries(servers.map((s) => [s, SERVERS[s]])), profiles }));
  return home;
}

const BUILTINS = ["echo", "calculator", "system_info", "health_check", "document_summarizer"];

/** Bytes of the bundle that are the tokenizer, and of the whole bundle, built as build.mjs builds it. */
async function bundleShare(): Promise<{ tokenizer: number; total: number }> {
  const r = await build({ entryPoints: ["src/main.ts"], bundle: true, platform: "node", format: "cjs", target: "node20", minify: true, write: false, metafile: true, logLevel: "silent", define: { __GATEWAY_VERSION__: '"0"' } });
  const out = Object.values(r.metafile.outputs)[0]!;
  const tokenizer = Object.entries(out.inputs).filter(([path]) => path.includes("node_modules/gpt-tokenizer/")).reduce((s, [, i]) => s + i.bytesInOutput, 0);
  return { tokenizer, total: out.bytes };
}

const MB = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

/** The primary's resident memory before and after its first `status` with a session connected (the tokenizer loads). */
async function statusCost(home: string): Promise<{ before: number; after: number; first: number; next: number }> {
  const env = { PATH: "/usr/bin:/bin", HOME: home, CLAUDE_MPM_HOME: home };
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(new StdioClientTransport({ command: BIN, args: [], env, stderr: "ignore" }));
  try {
    await client.listTools();
    const pid = Number((JSON.parse(readFileSync(join(home, "mcp", "gateway.json"), "utf8")) as { pid: number }).pid);
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssMiB(pid).rss;
    const timed = () => {
      const t0 = performance.now();
      execFileSync(BIN, ["status", "--json"], { env, stdio: "ignore" });
      return performance.now() - t0;
    };
    const first = timed();
    const after = rssMiB(pid).rss;
    return { before, after, first, next: timed() };
  } finally {
    await client.close();
    spawnSync(BIN, ["stop"], { env, stdio: "ignore" });
  }
}

async function main() {
  const rows: string[] = [];
  for (const servers of [["everything"], ["memory"], ["filesystem"], ["everything", "memory", "filesystem"]]) {
    const home = homeFor(servers);
    const all = estimate(home);
    const downstream = all.tools.filter((t) => !BUILTINS.includes(t.name));
    const filtered = estimate(home, "filtered");
    const search = estimate(home, "search");
    const own = downstream.reduce((s, t) => s + t.tokens, 0);
    rows.push(
      `| ${servers.join(" + ")} | ${downstream.length} tools, ${own} | ${all.tools.length} tools, ${all.total} | ${filtered.tools.length} tools, ${filtered.total} | ${search.total} |`,
    );
  }
  // What counting costs: `tools` against `tools --tokens` with no downstream server (the tokenizer's load and
  // five counts are the difference), interleaved.
  const empty = homeFor([]);
  const env = { PATH: "/usr/bin:/bin", HOME: empty, CLAUDE_MPM_HOME: empty };
  const plain: number[] = [];
  const counted: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [args, into] of [
      [["tools"], plain],
      [["tools", "--tokens"], counted],
    ] as const) {
      const t0 = performance.now();
      spawnSync(BIN, args, { env, stdio: "ignore" });
      into.push(performance.now() - t0);
    }
  }
  const share = await bundleShare();
  const cost = await statusCost(homeFor([]));
  writeSection(
    "Context cost of tools/list (bench/tokens.ts)",
    `${machine()}; counts from \`tools --tokens --json\` of the built binary.

Estimated tokens (cl100k_base tokenizer: an estimate, no client's model uses exactly it) of the tools a
client is listed: name, description and input/output schemas as a client sends them to the model.
"filtered" keeps ${Object.entries(FILTERED)
      .map(([s, p]) => `${s}: ${p.map((x) => `\`${x}\``).join(", ")}`)
      .join("; ")}; then excludes \`*__delete_*\` (no built-ins). "search" is \`"search": true\`.

| servers | their own tools | all (with the 5 built-ins) | filtered profile | search mode |
|---|---|---|---|---|
${rows.join("\n")}

Search mode lists the same three tools whatever is behind the gateway, so its cost is constant.

Counting: \`tools\` ${fmt(median(plain))} against \`tools --tokens\` ${fmt(median(counted))} (median of ${RUNS}, interleaved,
no downstream server): loading the tokenizer and counting cost ${fmt(median(counted) - median(plain))}, paid only by what counts
(the bridge never loads it). The tokenizer (gpt-tokenizer, pure JavaScript: no wasm, no native addon) is ${MB(share.tokenizer)} of the
${MB(share.total)} bundle. \`status\` counts each session's tools in the primary: its first one (a session connected,
no downstream server) took ${fmt(cost.first)} and the next ${fmt(cost.next)}; the primary's RSS went from ${cost.before.toFixed(1)} MiB to
${cost.after.toFixed(1)} MiB once the tokenizer was loaded, and stays so.`,
  );
  rmSync(tmp, { recursive: true, force: true });
}

await main();
