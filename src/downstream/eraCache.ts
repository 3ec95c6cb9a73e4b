import { createHash } from "node:crypto";
import type { ServerConfig } from "./config.js";

/** How long a server's era, once found, is trusted before it is probed again. */
export const ERA_TTL_MS = 60 * 60_000;

/**
 * Each downstream server's protocol era as last found, so a restart skips the probe (one round trip, and
 * on stdio a wait for a legacy server that never answers it). A verdict is dated and trusted only until
 * `ttlMs` passes: a legacy verdict is never corrected by the server itself (an upgraded server still
 * answers `initialize`), so only its age retires it (SDK docs, advanced/gateway.md, "Caching discovery
 * verdicts"). Keyed by the server's name and its whole config: a changed command is another server.
 */
export class EraCache<V> {
  private readonly verdicts = new Map<string, { verdict: V; storedAt: number }>();

  constructor(
    private readonly ttlMs: number = ERA_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The fresh verdict for a server, or undefined (never probed, expired, or forgotten): probe then. */
  get(name: string, cfg: ServerConfig): V | undefined {
    const key = cacheKey(name, cfg);
    const entry = this.verdicts.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.storedAt >= this.ttlMs) {
      this.verdicts.delete(key);
      return undefined;
    }
    return entry.verdict;
  }

  /** Records what a probe found. */
  set(name: string, cfg: ServerConfig, verdict: V): void {
    this.verdicts.set(cacheKey(name, cfg), { verdict, storedAt: this.now() });
  }

  /** Drops a verdict that a connection just proved wrong (or that failed): the next start probes again. */
  forget(name: string, cfg: ServerConfig): void {
    this.verdicts.delete(cacheKey(name, cfg));
  }
}

function cacheKey(name: string, cfg: ServerConfig): string {
  // Hashed: the config may hold secrets (env, headers), which have no business lying around as map keys.
  return `${name}\u0000${createHash("sha256").update(JSON.stringify(cfg)).digest("base64url")}`;
}
