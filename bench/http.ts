// The HTTP front door (issue 15): `tools/call` of the built-in `echo` through the primary's Streamable HTTP
// endpoint (modern era: one stateless POST per call; legacy era: a session) beside the stdio path every
// client launches (client → bridge → primary), on one primary. Latency of sequential calls (p50/p99) and
// throughput with 1 and 16 calls in flight. HTTP requests go over keep-alive connections, as a client's
// fetch would send them. Run: node --import tsx bench/http.ts
// Knobs: BENCH_RUNS (repeats, default 5), BENCH_CALLS (sequential calls per path per run, default 1000),
// BENCH_SECONDS (length of one throughput window, default 2).
import { spawnSync } from "node:child_process";
import { Agent, request } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { INIT, LineProc, machine, median, quantile, writeSection } from "./lib.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const WARMUP = 300;
const PIPE = 16;
const BIN = resolve("dist/claude-mpm-gateway");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One way to make one `echo` call and await its result. */
interface Path {
  name: string;
  call(): Promise<void>;
  close(): Promise<void>;
}

let nextId = 1;

/** client → bridge → primary over stdio, newline-delimited JSON-RPC. */
async function stdioPath(env: NodeJS.ProcessEnv): Promise<Path> {
  const p = new LineProc(BIN, [], env);
  await p.request(0, INIT);
  p.child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
  return {
    name: "client → bridge → primary (stdio)",
    async call() {
      const id = nextId++;
      const r = (await p.request(id, JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { message: "ping" } } }) + "\n")) as { result?: unknown };
      if (!r.result) throw new Error(`stdio call failed: ${JSON.stringify(r)}`);
    },
    close: () => p.end(),
  };
}

/** POSTs a JSON-RPC body; resolves with the response's headers and body (a JSON object or one SSE event). */
function post(agent: Agent, url: URL, headers: Record<string, string>, body: unknown): Promise<{ headers: Record<string, unknown>; body: { result?: unknown } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          const json = text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "{}");
          resolve({ headers: res.headers, body: JSON.parse(json) as { result?: unknown } });
        });
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

/** The modern era: every call one stateless POST with the 2026-07-28 envelope and request headers. */
function modernPath(url: URL, token: string): Path {
  const agent = new Agent({ keepAlive: true });
  const headers = { authorization: `Bearer ${token}`, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "echo" };
  return {
    name: "HTTP, modern era (stateless POST)",
    async call() {
      const r = await post(agent, url, headers, { jsonrpc: "2.0", id: nextId++, method: "tools/call", params: { name: "echo", arguments: { message: "ping" }, _meta: META } });
      if (!r.body.result) throw new Error(`modern call failed: ${JSON.stringify(r.body)}`);
    },
    close: async () => agent.destroy(),
  };
}

/** The legacy era: initialize once, then calls within the session. */
async function legacyPath(url: URL, token: string): Promise<Path> {
  const agent = new Agent({ keepAlive: true });
  const auth = { authorization: `Bearer ${token}` };
  const init = await post(agent, url, auth, JSON.parse(INIT));
  const session = String(init.headers["mcp-session-id"]);
  const headers = { ...auth, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
  await post(agent, url, headers, { jsonrpc: "2.0", method: "notifications/initialized" }).catch(() => undefined);
  return {
    name: "HTTP, legacy era (session)",
    async call() {
      const r = await post(agent, url, headers, { jsonrpc: "2.0", id: nextId++, method: "tools/call", params: { name: "echo", arguments: { message: "ping" } } });
      if (!r.body.result) throw new Error(`legacy call failed: ${JSON.stringify(r.body)}`);
    },
    close: async () => agent.destroy(),
  };
}

/** Latencies (ms) of `n` sequential calls. */
async function latencies(path: Path, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await path.call();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Calls per second with `inFlight` calls kept going for SECONDS. */
async function throughput(path: Path, inFlight: number): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await path.call();
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "cmg-bench-http-"));
  mkdirSync(join(home, "mcp"), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, "mcp", "config.json"), JSON.stringify({ http: { port: 0 }, mcpServers: {} }), { mode: 0o600 });
  const env = { PATH: "/usr/bin:/bin", HOME: home, CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: "500" };
  const stdio = await stdioPath(env);
  let info: { http_url?: string } = {};
  for (let i = 0; i < 100 && !info.http_url; i++) {
    try {
      info = JSON.parse(readFileSync(join(home, "mcp", "gateway.json"), "utf8")) as { http_url?: string };
    } catch {
      await sleep(50);
    }
  }
  if (!info.http_url) throw new Error("the primary recorded no http_url");
  const url = new URL(info.http_url);
  const token = readFileSync(join(home, "mcp", "http.token"), "utf8").trim();
  const paths = [stdio, modernPath(url, token), await legacyPath(url, token)];

  const p50: Record<string, number[]> = {};
  const p99: Record<string, number[]> = {};
  const tput: Record<string, number[]> = {};
  for (const p of paths) {
    for (const k of [p.name, `${p.name}|${PIPE}`]) {
      p50[k] = [];
      p99[k] = [];
      tput[k] = [];
    }
  }
  for (const p of paths) await latencies(p, WARMUP);
  for (let run = 0; run < RUNS; run++) {
    // Interleaved, so a busy moment of the machine hits every path alike.
    for (const p of paths) {
      const l = await latencies(p, CALLS);
      p50[p.name]!.push(quantile(l, 0.5));
      p99[p.name]!.push(quantile(l, 0.99));
      tput[p.name]!.push(await throughput(p, 1));
      tput[`${p.name}|${PIPE}`]!.push(await throughput(p, PIPE));
    }
    process.stderr.write(`run ${run + 1}/${RUNS} done\n`);
  }
  for (const p of paths) await p.close();
  execStop(env);

  const ms = (x: number) => x.toFixed(3);
  const base = median(tput[stdio.name]!);
  const basePipe = median(tput[`${stdio.name}|${PIPE}`]!);
  const body = [
    `${machine()}. ${RUNS} runs × ${CALLS} sequential calls per path (after ${WARMUP} warm-up calls), interleaved; medians`,
    `of the runs. One primary serves all three paths; \`echo\` is built in (no downstream server). HTTP over`,
    `keep-alive connections with the bearer token; the modern era's POST carries the 2026-07-28 envelope and headers.`,
    "",
    "| path | p50 (ms) | p99 (ms) | calls/s, 1 in flight | calls/s, 16 in flight |",
    "|---|---|---|---|---|",
    ...paths.map((p) => {
      const t1 = median(tput[p.name]!);
      const t16 = median(tput[`${p.name}|${PIPE}`]!);
      const rel = (x: number, b: number) => (p === stdio ? "" : ` (${Math.round((x / b) * 100)} %)`);
      return `| ${p.name} | ${ms(median(p50[p.name]!))} | ${ms(median(p99[p.name]!))} | ${t1.toFixed(0)}${rel(t1, base)} | ${t16.toFixed(0)}${rel(t16, basePipe)} |`;
    }),
    "",
    "Percentages: throughput against the stdio path. A modern call builds a fresh server instance from the",
    "session factory per request (nothing is kept between requests, which is what lets replicas share the",
    "load); a legacy session reuses one instance.",
  ].join("\n");
  writeSection("HTTP front door (bench/http.ts)", body);
  process.stdout.write(body + "\n");
}

function execStop(env: NodeJS.ProcessEnv): void {
  // The HTTP endpoint keeps the primary up after its last bridge: stop it.
  spawnSync(BIN, ["stop"], { env, stdio: "ignore", timeout: 15_000 });
}

void main();
