import type { IncomingMessage, ServerResponse } from "node:http";
import { createMcpHandler, isLegacyRequest, type AuthInfo, type McpServerFactory, type ServerNotifier } from "@modelcontextprotocol/server";
import { logger } from "../log.js";
import { DEFAULT_LEGACY_LIMITS, LegacySessions, type LegacyLimits } from "./legacySessions.js";
import { sendWebResponse, toWebRequest } from "./nodeFetch.js";

const log = logger("http");

/** MCP over Streamable HTTP for both eras, from one session factory. */
export interface McpHttp {
  /** Serves one request that passed the guard, for the principal its token names. */
  handle(req: IncomingMessage, res: ServerResponse, principal: string): Promise<void>;
  /** Tells modern clients' `subscriptions/listen` streams that lists changed (legacy sessions hear it from their own instance). */
  notify: ServerNotifier;
  /** 2025-era sessions open now. */
  legacySessions(): number;
  /** Ends in-flight exchanges and every session; safe twice. */
  close(): Promise<void>;
}

/**
 * The two eras on one endpoint. Modern (2026-07-28): each POST is served by a fresh instance from the
 * factory and nothing is kept between requests, so any replica can take any request. Legacy (2025-11-25):
 * sessions with `Mcp-Session-Id` and a GET stream, held by this process. The SDK's own classifier decides
 * which is which, so this routing never disagrees with the handler's.
 */
export function createMcpHttp(factory: McpServerFactory, limits: LegacyLimits = DEFAULT_LEGACY_LIMITS): McpHttp {
  const modern = createMcpHandler(factory, { legacy: "reject", onerror: (err) => log.debug(`modern: ${err.message}`) });
  const legacy = new LegacySessions(factory, limits);
  let closing: Promise<void> | undefined;
  return {
    async handle(req, res, principal) {
      const request = toWebRequest(req, res);
      // The factory hears who asks (ctx.authInfo): what a session hands out is bound to that principal.
      const authInfo: AuthInfo = { token: principal, clientId: principal, scopes: [] };
      const response = (await isLegacyRequest(request)) ? await legacy.fetch(request, authInfo) : await modern.fetch(request, { authInfo });
      await sendWebResponse(res, response);
    },
    notify: modern.notify,
    legacySessions: () => legacy.size,
    close: () => (closing ??= Promise.allSettled([modern.close(), legacy.close()]).then(() => undefined)),
  };
}
