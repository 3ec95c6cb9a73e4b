import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { GatewayError } from "../errors.js";
import { logger } from "../log.js";
import { endpointUrl, isLoopback, type ListenAddress } from "./address.js";
import { checkRequest } from "./guard.js";
import { bearerToken, principalOf } from "./tokens.js";

const log = logger("http");

/** The path of the MCP endpoint; every other path but /healthz is 404. */
export const MCP_PATH = "/mcp";

/** Response header naming the process that answered: which replica, behind a load balancer. */
export const INSTANCE_HEADER = "x-claude-mpm-gateway-instance";

/** Serves one MCP request that passed the guard; `principal` names its token (see principalOf). */
export type McpRequestHandler = (req: IncomingMessage, res: ServerResponse, principal: string) => Promise<void>;

export interface HttpEndpointOptions extends ListenAddress {
  /** Accepted bearer tokens; empty only on a loopback listener. */
  tokens: readonly string[];
  handle: McpRequestHandler;
}

/** A listening endpoint. */
export interface HttpEndpoint {
  url: string;
  port: number;
  instance: string;
  /** Stops accepting, lets requests in flight finish (streams are ended at once), then closes; safe twice. */
  close(drainMs?: number): Promise<void>;
}

/** Long-lived streams that never finish by themselves: a drain ends them instead of waiting. */
function isStream(req: IncomingMessage): boolean {
  return req.method === "GET" || String(req.headers["mcp-method"] ?? "").toLowerCase() === "subscriptions/listen";
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** A JSON-RPC error with no id, as the transport spec allows in the body of a refused request. */
const rpcError = (message: string) => ({ jsonrpc: "2.0", error: { code: -32000, message }, id: null });

/**
 * Listens for Streamable HTTP on host:port: `/mcp` behind the Origin/Host/token guard, `GET /healthz` for a
 * load balancer. Refuses a listener beyond loopback with no token: an open gateway on a network runs the
 * user's tools for anyone who finds it.
 */
export async function listenHttp(opts: HttpEndpointOptions): Promise<HttpEndpoint> {
  const loopback = isLoopback(opts.host);
  if (!loopback && opts.tokens.length === 0) {
    throw new GatewayError("USAGE", `refusing to listen on ${opts.host} without a bearer token: set CLAUDE_MPM_GATEWAY_TOKEN or --token-file, or listen on 127.0.0.1`);
  }
  const instance = randomBytes(6).toString("hex");
  const inFlight = new Map<ServerResponse, boolean>();
  let draining = false;
  let settle: (() => void) | undefined;

  const server: Server = createServer((req, res) => {
    res.setHeader(INSTANCE_HEADER, instance);
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
      return answer(res, draining ? 503 : 200, { status: draining ? "draining" : "ok" });
    }
    if (path !== MCP_PATH) return answer(res, 404, rpcError(`Not found: the MCP endpoint is ${MCP_PATH}`));
    if (draining) return answer(res, 503, rpcError("Service unavailable: the gateway is shutting down"), { connection: "close" });
    const refused = checkRequest(req.headers, { tokens: opts.tokens, loopback });
    if (refused) {
      log.info(`${req.method} ${path} refused (${refused.status}): ${refused.message}`);
      return answer(res, refused.status, rpcError(refused.message), refused.status === 401 ? { "www-authenticate": 'Bearer realm="claude-mpm-gateway"' } : {});
    }
    inFlight.set(res, isStream(req));
    res.once("close", () => {
      inFlight.delete(res);
      if (draining && ![...inFlight.values()].includes(false)) settle?.();
    });
    const principal = principalOf(opts.tokens.length ? bearerToken(req.headers.authorization) : undefined);
    opts.handle(req, res, principal).catch((err: unknown) => {
      log.warn(`${req.method} ${path}: ${(err as Error).message}`);
      if (!res.headersSent) answer(res, 500, rpcError("Internal server error"));
      else res.destroy();
    });
  });
  // A slow or silent peer must not hold a socket for ever (headers within 10 s, a whole request within 60 s).
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new GatewayError("USAGE", `cannot listen on ${opts.host}:${opts.port}: ${err.code === "EADDRINUSE" ? "the port is in use" : err.message}`, { cause: err })),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = endpointUrl(opts.host, port);
  log.info(`serving MCP over HTTP at ${url}${loopback ? "" : ` (listening on ${opts.host})`}`);

  let closing: Promise<void> | undefined;
  const close = (drainMs = 10_000): Promise<void> =>
    (closing ??= (async () => {
      draining = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      for (const [res, stream] of inFlight) if (stream) res.end();
      if ([...inFlight.values()].includes(false)) {
        await new Promise<void>((resolve) => {
          settle = resolve;
          setTimeout(resolve, drainMs).unref();
        });
      }
      server.closeAllConnections();
      await closed;
    })());
  return { url, port, instance, close };
}
