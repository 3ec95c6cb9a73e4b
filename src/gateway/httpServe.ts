import type { McpServerFactory } from "@modelcontextprotocol/server";
import type { StatePaths } from "../coordination/paths.js";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import { loadConfig } from "../downstream/config.js";
import type { ListenAddress } from "../http/address.js";
import { createMcpHttp } from "../http/mcpHttp.js";
import { listenHttp } from "../http/server.js";
import { sessionQueryOf } from "../http/sessionQuery.js";
import { ensureHttpToken, httpTokenPath } from "../http/tokens.js";
import type { ListKind } from "../downstream/manager.js";
import { guardServers } from "../downstream/guard.js";
import { createDownstream, createRegistry } from "./services.js";
import { createSession, type SessionDeps } from "./session.js";

const log = logger("http");

/** What HTTP sessions are served from: the process's shared registry and downstream servers. */
export type HttpSessionDeps = Omit<SessionDeps, "options" | "view">;

/** An HTTP endpoint serving the gateway's sessions. */
export interface HttpService {
  url: string;
  /** Open 2025-era sessions (modern requests hold none). */
  sessions(): number;
  /** Drains requests in flight (bounded), ends sessions and streams; safe twice. */
  close(drainMs?: number): Promise<void>;
}

/**
 * The session factory for HTTP: each instance bound to the principal of the request's token (ctx.authInfo,
 * set by the endpoint after the guard), so the requestState a session hands out serves only that token,
 * and seen through the profile and name limit the request's URL asks for (`?profile=`, `?max_name_length=`).
 */
export function httpSessions(deps: HttpSessionDeps): McpServerFactory {
  return (ctx) => createSession({ ...deps, options: { ...sessionQueryOf(ctx.requestInfo?.url), binding: ctx.authInfo?.clientId ?? "" } })(ctx);
}

/**
 * Serves the gateway's sessions over Streamable HTTP at `address`, both eras, behind the Origin/Host/token
 * guard. A modern client hears of changes only on its `subscriptions/listen` streams, which the SDK's
 * handler feeds from its event bus (a per-request instance has no stream of its own to send on): the
 * downstream side's change events are published there. Legacy sessions hear them from their own instance.
 */
export async function serveHttp(deps: HttpSessionDeps, address: ListenAddress, tokens: readonly string[]): Promise<HttpService> {
  const mcp = createMcpHttp(httpSessions(deps));
  const onListChanged = (kinds: ListKind[]) => {
    for (const kind of kinds) {
      if (kind === "tools") mcp.notify.toolsChanged();
      else if (kind === "prompts") mcp.notify.promptsChanged();
      else mcp.notify.resourcesChanged();
    }
  };
  const onUpdated = (uri: string) => mcp.notify.resourceUpdated(uri);
  deps.downstream?.on("listChanged", onListChanged);
  deps.downstream?.on("resourceUpdated", onUpdated);
  const unhook = () => {
    deps.downstream?.off("listChanged", onListChanged);
    deps.downstream?.off("resourceUpdated", onUpdated);
  };
  let endpoint;
  try {
    endpoint = await listenHttp({ ...address, tokens, handle: mcp.handle });
  } catch (err) {
    unhook();
    await mcp.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    url: endpoint.url,
    sessions: () => mcp.legacySessions(),
    close: (drainMs) => (closing ??= endpoint.close(drainMs).then(() => (unhook(), mcp.close()))),
  };
}

/**
 * The primary's endpoint, when config.json asks for one (`"http": { "port": N }`): on 127.0.0.1 only, with
 * the bearer token kept in the state dir (made on first use). Undefined when the key is absent or the
 * endpoint cannot start (a port in use): stdio clients are served all the same, and the log says why.
 * A config that cannot be read leaves it off too: the downstream side reports that config's problem.
 */
export async function startPrimaryHttp(paths: StatePaths, deps: HttpSessionDeps): Promise<HttpService | undefined> {
  let port: number | undefined;
  try {
    port = loadConfig(paths.configFile).http?.port;
  } catch {
    return undefined;
  }
  if (port === undefined) return undefined;
  try {
    const token = ensureHttpToken(httpTokenPath(paths));
    return await serveHttp(deps, { host: "127.0.0.1", port }, [token]);
  } catch (err) {
    log.error(`HTTP endpoint off: ${describeError(err)}`);
    return undefined;
  }
}

/**
 * `serve --http`: a gateway served over HTTP only, with no lock, no bridge and no instance file, so many
 * can run side by side (replicas) on one config. It owns its downstream servers, as a primary does, and
 * guards them as a primary does (a watchdog started from `watchdog`, and a record of its own in the state
 * dir), so not even a SIGKILL of it leaves them running.
 */
export async function runHttpServer(opts: {
  paths: StatePaths;
  address: ListenAddress;
  tokens: readonly string[];
  watchdog?: { command: string; args: string[] };
}): Promise<HttpService> {
  let service: HttpService | undefined;
  const registry = createRegistry("serve", opts.paths, () => service?.sessions() ?? 0);
  const downstream = createDownstream(opts.paths, registry);
  try {
    service = await serveHttp({ registry, downstream }, opts.address, opts.tokens);
  } catch (err) {
    await downstream.stop();
    throw err;
  }
  // Before any server starts, as the primary does: what a replica killed with its watchdog left is ended.
  const guard = await guardServers(opts.paths.stateDir, opts.watchdog, "replica");
  downstream.start();
  const http = service;
  let closing: Promise<void> | undefined;
  return {
    url: http.url,
    sessions: http.sessions,
    close: (drainMs) =>
      (closing ??= http
        .close(drainMs)
        .then(() => downstream.stop())
        .then(() => guard.close())),
  };
}
