import type { Client, LoggingLevel } from "@modelcontextprotocol/client";
import { rpcError } from "./rpcError.js";
import { describeError } from "../errors.js";
import { logger } from "../log.js";

const log = logger("downstream");

/**
 * MCP's code for a resource no server has: -32602 (Invalid params) since 2026-07-28, and on every era with
 * the v2 SDK, whose encode seam rewrites the 2025-era -32002 to it (spec: server/resources, error handling).
 */
export const RESOURCE_NOT_FOUND = -32602;

/**
 * Resource subscriptions of every session. A downstream server is subscribed once per URI however many
 * sessions asked, unsubscribed when the last one leaves, and re-subscribed after it restarts.
 */
export class Subscriptions {
  private readonly subs = new Map<string, Set<number>>();

  constructor(
    private readonly resolve: (uri: string) => { server: string; client: Client } | undefined,
    private readonly timeoutMs: number,
  ) {}

  /** Records a session's subscription and forwards the first one for a URI. */
  async subscribe(sessionId: number, uri: string): Promise<void> {
    const target = this.resolve(uri);
    if (!target) throw rpcError(RESOURCE_NOT_FOUND, `no downstream server serves ${uri}`, { uri });
    let set = this.subs.get(uri);
    if (!set) this.subs.set(uri, (set = new Set()));
    const first = set.size === 0;
    set.add(sessionId);
    if (!first || !subscribable(target.client)) return;
    try {
      await target.client.subscribeResource({ uri }, { timeout: this.timeoutMs });
    } catch (err) {
      set.delete(sessionId);
      if (!set.size) this.subs.delete(uri);
      throw err;
    }
  }

  /** Drops a session's subscription; the server hears of it when no session is left on that URI. */
  async unsubscribe(sessionId: number, uri: string): Promise<void> {
    const set = this.subs.get(uri);
    if (!set?.delete(sessionId) || set.size) return;
    this.subs.delete(uri);
    const target = this.resolve(uri);
    if (!target || !subscribable(target.client)) return;
    await target.client.unsubscribeResource({ uri }, { timeout: this.timeoutMs }).catch((err) => log.debug(`${target.server}: unsubscribe ${uri}: ${describeError(err)}`));
  }

  /** Drops every subscription of a closed session. */
  async detach(sessionId: number): Promise<void> {
    const mine = [...this.subs].filter(([, set]) => set.has(sessionId)).map(([uri]) => uri);
    await Promise.all(mine.map((uri) => this.unsubscribe(sessionId, uri)));
  }

  /** The sessions subscribed to a URI. */
  sessionsOf(uri: string): ReadonlySet<number> {
    return this.subs.get(uri) ?? new Set();
  }

  /** Re-subscribes a restarted server to the URIs it serves that sessions still want. */
  async restore(client: Client, serves: (uri: string) => boolean): Promise<void> {
    if (!subscribable(client)) return;
    const uris = [...this.subs.keys()].filter(serves);
    await Promise.all(
      uris.map((uri) => client.subscribeResource({ uri }, { timeout: this.timeoutMs }).catch((err) => log.warn(`re-subscribing ${uri}: ${describeError(err)}`))),
    );
  }
}

/**
 * True when the server takes resources/subscribe: a legacy server that offers it (2026-07-28 moved resource
 * updates onto subscriptions/listen, which a modern server's connection does not carry here yet).
 */
function subscribable(client: Client): boolean {
  return !!client.getServerCapabilities()?.resources?.subscribe && client.getProtocolEra() !== "modern";
}

/** MCP log levels, least severe first. */
export const SEVERITY: LoggingLevel[] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

/**
 * The log level each session asked for. A shared server sends at the most verbose level any session wants;
 * each session's own level then filters what it receives.
 */
export class LogLevels {
  private readonly levels = new Map<number, LoggingLevel>();
  private effective: LoggingLevel | undefined;

  constructor(
    private readonly clients: () => Client[],
    private readonly timeoutMs: number,
  ) {}

  /** Records a session's level and forwards the new effective level to every running server. */
  async set(sessionId: number, level: LoggingLevel): Promise<void> {
    this.levels.set(sessionId, level);
    await this.recompute();
  }

  /** Forgets a closed session's level. */
  async detach(sessionId: number): Promise<void> {
    if (this.levels.delete(sessionId)) await this.recompute();
  }

  private async recompute(): Promise<void> {
    const asked = [...this.levels.values()];
    if (!asked.length) return; // MCP has no "unset": the last level stays
    const level = SEVERITY[Math.min(...asked.map((l) => SEVERITY.indexOf(l)))]!;
    if (level === this.effective) return;
    this.effective = level;
    await Promise.all(this.clients().map((c) => this.apply(c)));
  }

  /** Tells one server the effective level (after it starts or restarts). */
  async apply(client: Client): Promise<void> {
    // 2026-07-28 removed logging/setLevel: a modern server logs only for a request that asks (per request).
    if (!this.effective || !client.getServerCapabilities()?.logging || client.getProtocolEra() === "modern") return;
    await client.setLoggingLevel(this.effective, { timeout: this.timeoutMs }).catch((err) => log.debug(`setLevel: ${describeError(err)}`));
  }
}
