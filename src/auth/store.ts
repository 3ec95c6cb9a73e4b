import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { OAuthDiscoveryState, StoredOAuthClientInformation, StoredOAuthTokens } from "@modelcontextprotocol/client";
import { writeFileAtomic } from "../coordination/atomicWrite.js";

/** Tokens as stored: the AS's answer plus when they were obtained and when the access token expires. */
export type SavedTokens = StoredOAuthTokens & { obtained_at: number; expires_at?: number };

/** Everything kept for one remote server. Secrets: never logged, file 0600 in a 0700 folder. */
export interface ServerCredentials {
  /** The server's name and URL when these were obtained: a changed URL makes them void. */
  server: string;
  url: string;
  /** A registered client (dynamic registration or metadata document); a static one lives in the config. */
  client?: StoredOAuthClientInformation;
  /** The issuer the config's own client was first used with (the SDK binds a client to one issuer). */
  static_issuer?: string;
  /** The redirect URI the client was registered with (an AS may match it exactly, port included). */
  redirect_uri?: string;
  tokens?: SavedTokens;
  discovery?: OAuthDiscoveryState;
  /** Set when the grant was refused (revoked, expired refresh token): the server needs a new sign-in. */
  needs_sign_in?: string;
}

/** A file name for any server name: readable, bounded, and never a path. */
function fileName(server: string): string {
  const readable = server.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40);
  const hash = createHash("sha256").update(server).digest("hex").slice(0, 10);
  return `${readable}-${hash}.json`;
}

/**
 * The per-server OAuth state in `<state dir>/oauth/`: one file per server, written atomically with mode
 * 0600 the moment anything changes (a rotated refresh token is worth nothing if it is lost in a crash).
 * Reads are cached by the file's identity, so the per-request token lookup costs one stat.
 */
export class CredentialStore {
  private readonly cache = new Map<string, { key: string; value: ServerCredentials | undefined }>();

  constructor(readonly dir: string) {}

  /** Where one server's credentials live. */
  pathOf(server: string): string {
    return join(this.dir, fileName(server));
  }

  /** The server's credentials, or undefined when none are stored or they were obtained for another URL. */
  read(server: string, url: string): ServerCredentials | undefined {
    const stored = this.readRaw(server);
    return stored && stored.server === server && stored.url === url ? stored : undefined;
  }

  private readRaw(server: string): ServerCredentials | undefined {
    const path = this.pathOf(server);
    let key: string;
    try {
      const st = statSync(path);
      key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      this.cache.delete(server);
      return undefined;
    }
    const hit = this.cache.get(server);
    if (hit?.key === key) return hit.value;
    let value: ServerCredentials | undefined;
    try {
      const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
      value = isCredentials(parsed) ? parsed : undefined;
    } catch {
      // unreadable or half-written by hand: treated as absent, a sign-in writes a good one
      value = undefined;
    }
    this.cache.set(server, { key, value });
    return value;
  }

  /** Applies a change to the server's credentials and writes them at once. */
  update(server: string, url: string, change: (c: ServerCredentials) => void): ServerCredentials {
    const current: ServerCredentials = structuredClone(this.read(server, url)) ?? { server, url };
    change(current);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.pathOf(server), JSON.stringify(current, null, 2) + "\n", 0o600);
    this.cache.delete(server);
    return current;
  }

  /** Deletes everything stored for the server; true when there was something. */
  remove(server: string): boolean {
    this.cache.delete(server);
    try {
      unlinkSync(this.pathOf(server));
      return true;
    } catch {
      return false;
    }
  }

  /** Names of the servers with a credentials file. */
  servers(): string[] {
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((f) => f.endsWith(".json"));
    } catch {
      return [];
    }
    const names: string[] = [];
    for (const f of files) {
      try {
        const parsed = JSON.parse(readFileSync(join(this.dir, f), "utf8")) as unknown;
        if (isCredentials(parsed) && fileName(parsed.server) === f) names.push(parsed.server);
      } catch {
        // not ours
      }
    }
    return names;
  }
}

function isCredentials(v: unknown): v is ServerCredentials {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  const objectOrAbsent = (x: unknown) => x === undefined || (typeof x === "object" && x !== null);
  return typeof c.server === "string" && typeof c.url === "string" && objectOrAbsent(c.client) && objectOrAbsent(c.tokens) && objectOrAbsent(c.discovery);
}

/** Stamps freshly issued tokens with when they were obtained and when the access token runs out. */
export function stampTokens(tokens: StoredOAuthTokens, now = Date.now()): SavedTokens {
  const saved: SavedTokens = { ...tokens, obtained_at: now };
  if (typeof tokens.expires_in === "number" && tokens.expires_in > 0) saved.expires_at = now + tokens.expires_in * 1000;
  return saved;
}
