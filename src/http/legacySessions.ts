import { randomUUID } from "node:crypto";
import { WebStandardStreamableHTTPServerTransport, type AuthInfo, type McpServerFactory } from "@modelcontextprotocol/server";
import { logger } from "../log.js";

const log = logger("http");

/** Limits on 2025-era sessions, the only per-process state of the HTTP endpoint. */
export interface LegacyLimits {
  /** Sessions held at once; an initialize beyond this is refused (503). */
  maxSessions: number;
  /** A session with nothing in flight and no open stream for this long is closed (its client vanished). */
  idleMs: number;
}

export const DEFAULT_LEGACY_LIMITS: LegacyLimits = { maxSessions: 1000, idleMs: 30 * 60_000 };

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  /** The principal that opened it: only the same token may use it. */
  principal: string;
  /** Requests (and GET streams) of this session not yet answered to the end. */
  active: number;
  lastSeen: number;
}

const jsonRpcError = (status: number, code: number, message: string) =>
  Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });

/**
 * 2025-era clients over Streamable HTTP (protocol 2025-11-25): an `initialize` opens a session with an
 * `Mcp-Session-Id`, later requests and the GET notification stream name it, DELETE ends it. Each session
 * is one instance from the same factory the modern era uses; what a session holds lives here, in this
 * process, which is why replicas need sticky routing by `Mcp-Session-Id` for legacy clients only.
 */
export class LegacySessions {
  private readonly sessions = new Map<string, Session>();
  private readonly reaper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly factory: McpServerFactory,
    private readonly limits: LegacyLimits = DEFAULT_LEGACY_LIMITS,
  ) {
    this.reaper = setInterval(() => this.reapIdle(), Math.min(60_000, limits.idleMs));
    this.reaper.unref();
  }

  /** Sessions open now. */
  get size(): number {
    return this.sessions.size;
  }

  /** Serves one 2025-era request from the principal `authInfo` names. */
  async fetch(request: Request, authInfo: AuthInfo): Promise<Response> {
    if (this.closed) return jsonRpcError(503, -32000, "Service unavailable: the gateway is shutting down");
    const id = request.headers.get("mcp-session-id");
    if (id !== null) {
      const session = this.sessions.get(id);
      // Spec 2025-11-25: a session the server no longer knows is 404, and the client starts a new one.
      // Another token's session is not known either: it is not theirs to use, nor to learn of.
      if (!session || session.principal !== authInfo.clientId) return jsonRpcError(404, -32001, "Session not found: initialize a new session");
      return this.track(session, () => session.transport.handleRequest(request, { authInfo }));
    }
    if (this.sessions.size >= this.limits.maxSessions) return jsonRpcError(503, -32000, "Service unavailable: too many sessions");
    return this.open(request, authInfo);
  }

  /** A request with no session id: an initialize opens a session; anything else is answered and dropped. */
  private async open(request: Request, authInfo: AuthInfo): Promise<Response> {
    const session: Session = { transport: undefined as never, principal: authInfo.clientId, active: 0, lastSeen: Date.now() };
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void this.sessions.set(sid, session),
    });
    session.transport = transport;
    transport.onclose = () => {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    const server = await this.factory({ era: "legacy", requestInfo: request, authInfo });
    await server.connect(transport);
    const response = await this.track(session, () => transport.handleRequest(request, { authInfo }));
    // Not an initialize (the transport answered it "not initialized"): nothing to keep.
    if (transport.sessionId === undefined) await server.close();
    else log.debug(`legacy session ${transport.sessionId} opened (${this.sessions.size} open)`);
    return response;
  }

  /** Counts a request as active until its response body (an SSE stream, maybe) is done. */
  private async track(session: Session, handle: () => Promise<Response>): Promise<Response> {
    session.active++;
    session.lastSeen = Date.now();
    const done = () => {
      session.active--;
      session.lastSeen = Date.now();
    };
    let response: Response;
    try {
      response = await handle();
    } catch (err) {
      done();
      throw err;
    }
    if (!response.body) {
      done();
      return response;
    }
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      done();
    };
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            finish();
            controller.close();
          } else controller.enqueue(value);
        } catch (err) {
          finish();
          controller.error(err);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  private reapIdle(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) {
      if (s.active === 0 && now - s.lastSeen > this.limits.idleMs) {
        log.info(`legacy session ${id} idle for ${Math.round((now - s.lastSeen) / 1000)} s: closed`);
        this.sessions.delete(id);
        void s.transport.close();
      }
    }
  }

  /** Closes every session (their streams end, pending requests are rejected); safe twice. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(all.map((s) => s.transport.close()));
  }
}
