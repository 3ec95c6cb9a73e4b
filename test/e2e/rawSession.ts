import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { gatewayEnv, type Install } from "./harness.js";

/** A gateway process driven with raw bytes, for what an SDK client would never send. */
export class RawSession {
  readonly child: ChildProcessWithoutNullStreams;
  private buf = "";
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(install: Install, home: string, args: string[] = [], extra: Record<string, string> = {}, as: { uid?: number; gid?: number } = {}) {
    this.child = spawn(install.bin, args, { env: gatewayEnv(install, home, extra), ...as });
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) !== -1) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr.on("data", (d) => (this.stderr += d));
    this.exited = new Promise((r) => this.child.on("exit", (code, signal) => r({ code, signal })));
  }

  /** Writes raw bytes to the gateway's stdin. */
  write(data: string | Buffer): void {
    this.child.stdin.write(data);
  }

  /** Sends one JSON-RPC message as a line. */
  send(message: unknown): void {
    this.write(JSON.stringify(message) + "\n");
  }

  /**
   * The next line of stdout, parsed; fails after `timeoutMs`. Every stdout line must be JSON. The default
   * bound covers a cold start (bridge, primary, SDK) on a loaded machine: a standalone's first answer took
   * over 10 s at load 25.
   */
  async next(timeoutMs = 30_000): Promise<Record<string, unknown>> {
    return JSON.parse(await this.nextLine(timeoutMs)) as Record<string, unknown>;
  }

  /** The next line of stdout as it came (without its newline); fails after `timeoutMs`. */
  async nextLine(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (Date.now() > deadline) throw new Error(`no output within ${timeoutMs} ms; stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.lines.shift()!;
  }

  /** Sends a request and waits for the response with its id (skipping notifications). */
  async request(id: number | string, method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    this.send({ jsonrpc: "2.0", id, method, params });
    for (;;) {
      const msg = await this.next();
      if (msg.id === id) return msg;
    }
  }

  /** Initializes with a given protocol version and returns the server's result. */
  async initialize(protocolVersion = "2025-11-25"): Promise<Record<string, unknown>> {
    const res = await this.request(0, "initialize", { protocolVersion, capabilities: {}, clientInfo: { name: "raw", version: "1" } });
    this.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    return res.result as Record<string, unknown>;
  }

  /** Lines received but not yet read. */
  get unread(): number {
    return this.lines.length;
  }

  /** The exit, or a failure if the process still runs after `timeoutMs` (a bound for "it exits", not a speed). */
  exitedWithin(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`pid ${this.child.pid} still running ${timeoutMs} ms later; stderr: ${this.stderr}`)), timeoutMs);
    });
    return Promise.race([this.exited, late]).finally(() => clearTimeout(timer));
  }

  /** Closes stdin, as a client does to end the session. */
  end(): void {
    this.child.stdin.end();
  }
}
