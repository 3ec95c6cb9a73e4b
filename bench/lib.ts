// Small helpers shared by the benchmarks: spawn-to-answer timing, percentiles, RESULTS.md sections.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { cpus, totalmem } from "node:os";

export const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
}) + "\n";

/** A process speaking line-delimited JSON-RPC, with a promise per awaited id. */
export class LineProc {
  readonly child: ChildProcessWithoutNullStreams;
  private buf = "";
  private waiting = new Map<number | string, (msg: unknown) => void>();
  constructor(command: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.resume();
    this.child.stdout.on("data", (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) !== -1) {
        const msg = JSON.parse(this.buf.slice(0, nl)) as { id?: number | string };
        this.buf = this.buf.slice(nl + 1);
        if (msg.id !== undefined) this.waiting.get(msg.id)?.(msg);
      }
    });
  }
  /** Writes a request line and resolves with its response. */
  request(id: number | string, line: string): Promise<unknown> {
    return new Promise((r) => {
      this.waiting.set(id, r);
      this.child.stdin.write(line);
    });
  }
  /** Closes stdin and waits for exit. */
  end(): Promise<void> {
    return new Promise((r) => {
      this.child.once("exit", () => r());
      this.child.stdin.end();
    });
  }
}

/** Milliseconds from spawn to the initialize response; the process is then closed. */
export async function spawnToInit(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  const p = new LineProc(command, args, env);
  await p.request(0, INIT);
  const ms = performance.now() - t0;
  await p.end();
  return ms;
}

/** Milliseconds from spawn to exit. */
export function spawnToExit(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((r) => {
    const t0 = performance.now();
    const c = spawn(command, args, { env, stdio: "ignore" });
    c.on("exit", () => r(performance.now() - t0));
  });
}

/** The q-quantile (0..1) of a sample. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

export const median = (xs: number[]) => quantile(xs, 0.5);
export const fmt = (ms: number) => `${ms.toFixed(ms < 1 ? 3 : 1)} ms`;

/** Resident memory of a pid in MiB (Linux): all of it, and the private part (RssAnon). File-backed pages of
 * the binary are shared by every process running it, so the private part is what each extra client costs. */
export function rssMiB(pid: number): { rss: number; private: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: kb("VmRSS"), private: kb("RssAnon") };
}

/** "R MiB (P MiB private)" */
export const fmtMem = (m: { rss: number; private: number }) => `${m.rss.toFixed(1)} MiB (${m.private.toFixed(1)} MiB private)`;

/** One line describing this machine, for the results file. */
export function machine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}-${process.arch}, measured ${new Date().toISOString().slice(0, 10)}`;
}

/** Replaces (or appends) one `## title` section of bench/RESULTS.md. */
export function writeSection(title: string, body: string): void {
  const file = "bench/RESULTS.md";
  let text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n\nWritten by the scripts in bench/; each section by the script named in it.\n";
  const header = `## ${title}\n`;
  const start = text.indexOf(header);
  if (start === -1) text = text.trimEnd() + "\n\n" + header + body.trimEnd() + "\n";
  else {
    const next = text.indexOf("\n## ", start + header.length);
    text = text.slice(0, start) + header + body.trimEnd() + "\n" + (next === -1 ? "" : text.slice(next));
  }
  writeFileSync(file, text);
}
