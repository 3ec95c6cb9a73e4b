import { Client, SdkError, SdkErrorCode, StreamableHTTPClientTransport, type AuthProvider, type PriorDiscovery, type Transport } from "@modelcontextprotocol/client";
import type { ServerConfig } from "./config.js";
import { GatewayError, describeError, isGatewayError } from "../errors.js";
import { logger } from "../log.js";
import { GATEWAY_NAME, VERSION } from "../version.js";
import { LineTransport } from "../transport/lineTransport.js";
import { Socket } from "node:net";
import { stopAdopted } from "./processTree.js";
import { lastLines, startStdio, type StdioProcess } from "./stdioProcess.js";
import { captureClient, restoreClient, type ClientState } from "./clientState.js";
import { isOurs, type RecordedGroup } from "./serverRecord.js";
import { CallLane } from "./callLane.js";

const log = logger("downstream");

/** One live MCP session with a downstream server (one attempt of its lifecycle). */
export interface Connection {
  client: Client;
  pid: number | null;
  /** The era the server speaks: found by the probe, or taken from `prior`. */
  era: "modern" | "legacy";
  /** Resolves with why the connection ended (exit code, signal, closed stream); never rejects. */
  ended: Promise<string>;
  /** Ends the session and stops the server's process tree, bounded by the grace period. */
  close(): Promise<void>;
  /** A local server's: stops using it without stopping it, for a handover (see DetachedStdio). */
  detach?(): DetachedStdio | undefined;
  /** A local server's: the fast lane for tools/call past the client (callLane.ts). */
  lane?: CallLane;
}

/** A running local server as its handover needs it: its stdio pipes and what the client knew of it. */
export interface DetachedStdio {
  pipes: StdioPipes;
  pid: number;
  state: ClientState;
  /** Bytes of a partial line already read from its stdout: the next reader starts with them. */
  leftover: Buffer;
}

/** A server's three stdio pipes, as sockets (the form in which Node passes them to another process). */
export interface StdioPipes {
  stdin: Socket;
  stdout: Socket;
  stderr: Socket;
}

/** How a connection is opened. */
export interface ConnectOptions {
  startTimeoutMs: number;
  stopGraceMs: number;
  /** Registers the client's handlers before it connects, so no early message is missed. */
  setup(client: Client): void;
  /** Aborts a start in progress (the gateway is stopping): the server is stopped and connect rejects. */
  signal: AbortSignal;
  /** A remote server's OAuth: the bearer token per request and the refresh on a 401 (src/auth). */
  authProvider?: AuthProvider;
  /** The server's era as last found (EraCache): skips the probe. */
  prior?: PriorDiscovery;
  /** A local server's process, started already (see prestart.ts): the session opens over it. */
  started?: StdioProcess;
}

/** The longest the era probe waits on stdio (half the start timeout at most): a server silent that long is a legacy one (SDK docs: probe policy). */
const PROBE_TIMEOUT_MS = 10_000;

function newClient(opts: ConnectOptions): Client {
  // Sampling, elicitation and roots are offered to every server; each request is routed to the client whose
  // call is in flight, which answers or refuses it. A modern server is told each calling client's own
  // capabilities with every request instead. The era is negotiated: server/discover first, `initialize` if
  // the server knows no better (spec 2026-07-28, basic/transports/stdio, backward compatibility).
  return new Client(
    { name: GATEWAY_NAME, version: VERSION },
    {
      capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: {} },
      versionNegotiation: { mode: "auto", probe: { timeoutMs: Math.min(opts.startTimeoutMs / 2, PROBE_TIMEOUT_MS) } },
    },
  );
}

/**
 * Starts a stdio server in its own process group (or takes the one `opts.started` holds, started before the
 * SDK was loaded) and opens an MCP session over its stdin/stdout.
 */
async function connectStdio(name: string, cfg: Extract<ServerConfig, { type: "stdio" }>, opts: ConnectOptions): Promise<Connection> {
  const proc = opts.started ?? startStdio(name, cfg);
  const { child, ended, report } = proc;
  const transport = new LineTransport({
    input: child.stdout,
    output: child.stdin,
    endOutput: true,
    onWarning: (m) => log.warn(`${name}: ${m}`),
    settleBetweenMessages: true,
  });
  // The SDK knows a stdio transport by these two members: on stdio a server silent on the era probe is a
  // legacy one, not an outage.
  Object.assign(transport, { pid: child.pid ?? null, stderr: child.stderr });
  const client = newClient(opts);
  opts.setup(client);
  // The stream may close just before the exit event that says why: give it a moment to arrive.
  client.onclose = () => setTimeout(() => report("closed its stdout"), 500);
  client.onerror = (err) => log.debug(`${name}: ${err.message}`);
  const lane = CallLane.attach(client, transport);
  const conn: Connection = {
    client,
    pid: child.pid ?? null,
    era: "legacy",
    ended,
    ...(lane ? { lane } : {}),
    close: async () => {
      await client.close().catch(() => undefined);
      await proc.stop(opts.stopGraceMs);
    },
    detach: () => {
      const state = captureClient(client);
      // POSIX: libuv's stdio pipes are sockets, which Node can pass to another process; elsewhere they are not.
      if (!state || child.pid === undefined || !(child.stdin instanceof Socket) || !(child.stdout instanceof Socket) || !(child.stderr instanceof Socket)) return undefined;
      client.onclose = undefined;
      const leftover = transport.release();
      child.stderr.removeAllListeners("data");
      child.stderr.pause();
      return { pipes: { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr }, pid: child.pid, state, leftover };
    },
  };
  await handshake(conn, client, transport, opts);
  return conn;
}

/**
 * Connects to a local server another primary started and handed over: the same process, reached over the
 * pipes it passed, the client's negotiated state restored (no new handshake). The server is not our child:
 * its end shows as the end of its stdout, and stopping it goes to its recorded process group.
 */
export async function adoptStdio(name: string, handed: { pipes: StdioPipes; pid: number; state: ClientState; leftover: Buffer }, group: RecordedGroup, opts: ConnectOptions): Promise<Connection> {
  const { stdin, stdout, stderr } = handed.pipes;
  const stderrTail: string[] = [];
  stderr.setEncoding("utf8");
  stderr.on("data", (chunk: string) => lastLines(stderrTail, chunk, name));
  stderr.on("error", () => undefined);
  let report!: (why: string) => void;
  const ended = new Promise<string>((resolve) => (report = resolve));
  const tail = () => (stderrTail.length ? `: ${stderrTail[stderrTail.length - 1]}` : "");
  const transport = new LineTransport({
    input: stdout,
    output: stdin,
    endOutput: true,
    onWarning: (m) => log.warn(`${name}: ${m}`),
    settleBetweenMessages: true,
    initial: handed.leftover,
  });
  Object.assign(transport, { pid: handed.pid, stderr });
  const client = newClient(opts);
  opts.setup(client);
  client.onclose = () => report(`closed its stdout${tail()}`);
  client.onerror = (err) => log.debug(`${name}: ${err.message}`);
  const lane = CallLane.attach(client, transport);
  let closing: Promise<void> | undefined;
  const conn: Connection = {
    client,
    pid: handed.pid,
    era: handed.state.discover ? "modern" : "legacy",
    ended,
    ...(lane ? { lane } : {}),
    close: () =>
      (closing ??= (async () => {
        await client.close().catch(() => undefined);
        stderr.destroy();
        await stopAdopted(group, isOurs, opts.stopGraceMs);
      })()),
    // Handed on again (the next restart): the same pipes, as they came.
    detach: () => {
      const state = captureClient(client);
      if (!state) return undefined;
      client.onclose = undefined;
      const leftover = transport.release();
      stderr.removeAllListeners("data");
      stderr.pause();
      return { pipes: handed.pipes, pid: handed.pid, state, leftover };
    },
  };
  try {
    await restoreClient(client, transport, handed.state);
  } catch (err) {
    await conn.close();
    throw new GatewayError("DOWNSTREAM_FAILED", `cannot take over the running server: ${describeError(err)}`, { cause: err });
  }
  return conn;
}

/** Opens an MCP session with a remote server over Streamable HTTP. */
async function connectHttp(name: string, cfg: Extract<ServerConfig, { type: "http" }>, opts: ConnectOptions): Promise<Connection> {
  const auth = opts.authProvider ? { authProvider: opts.authProvider } : {};
  const transport = new StreamableHTTPClientTransport(new URL(cfg.url), { requestInit: { headers: cfg.headers }, ...auth });
  const client = newClient(opts);
  opts.setup(client);
  let report!: (why: string) => void;
  const ended = new Promise<string>((resolve) => (report = resolve));
  client.onclose = () => report("connection closed");
  client.onerror = (err) => log.debug(`${name}: ${err.message}`);
  const conn: Connection = {
    client,
    pid: null,
    era: "legacy",
    ended,
    close: async () => {
      // A remote session is ended politely (DELETE), bounded like everything else.
      await Promise.race([
        transport.terminateSession().catch(() => undefined),
        new Promise((r) => setTimeout(r, opts.stopGraceMs)),
      ]);
      await client.close().catch(() => undefined);
    },
  };
  await handshake(conn, client, transport, opts);
  return conn;
}

async function handshake(conn: Connection, client: Client, transport: Transport, opts: ConnectOptions): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(transport, { timeout: opts.startTimeoutMs, ...(opts.prior ? { prior: opts.prior } : {}) }),
      conn.ended.then((why) => Promise.reject(new GatewayError("DOWNSTREAM_FAILED", why))),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new GatewayError("DOWNSTREAM_FAILED", `no answer to initialize within ${opts.startTimeoutMs} ms`)), opts.startTimeoutMs);
        const stopped = () => reject(new GatewayError("DOWNSTREAM_FAILED", "stopped while starting"));
        if (opts.signal.aborted) stopped();
        else opts.signal.addEventListener("abort", stopped, { once: true });
      }),
    ]);
  } catch (err) {
    // "Connection closed" says less than the exit code and stderr that follow it by a few milliseconds.
    const why = isGatewayError(err) ? undefined : await Promise.race([conn.ended, new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000))]);
    await conn.close();
    if (why) throw new GatewayError("DOWNSTREAM_FAILED", why, { cause: err });
    throw isGatewayError(err) ? err : new GatewayError("DOWNSTREAM_FAILED", `initialize failed: ${describeError(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  conn.era = client.getProtocolEra() === "modern" ? "modern" : "legacy";
}

/** Starts (stdio) or reaches (http) a downstream server and completes the MCP handshake, bounded. */
export function connect(name: string, cfg: ServerConfig, opts: ConnectOptions): Promise<Connection> {
  return cfg.type === "stdio" ? connectStdio(name, cfg, opts) : connectHttp(name, cfg, opts);
}

/**
 * True when a start failed because the server closed the connection during the era probe: some legacy
 * servers exit on any request before `initialize` (rmcp's do). The SDK's own stdio transport probes on a
 * spare process; ours, which owns the process group, probes in place, so the next start must skip the probe.
 */
export function closedOnProbe(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof SdkError && e.code === SdkErrorCode.EraNegotiationFailed) return true;
  }
  return false;
}
