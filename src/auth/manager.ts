import { EventEmitter } from "node:events";
import { auth, type AuthProvider } from "@modelcontextprotocol/client";
import { GatewayError, describeError } from "../errors.js";
import { logger } from "../log.js";
import { GATEWAY_NAME } from "../version.js";
import { signIn } from "./flow.js";
import { GatewayOAuthProvider, type OAuthSettings } from "./provider.js";
import { revokeGrant } from "./revoke.js";
import { CredentialStore, type ServerCredentials } from "./store.js";

const log = logger("oauth");

/** A remote server as the OAuth side sees it. */
export interface RemoteServer {
  name: string;
  url: string;
  headers: Record<string, string>;
  oauth?: OAuthSettings;
}

/** One remote server's sign-in state, as `auth status` and `status` show it. */
export interface AuthStatus {
  name: string;
  url: string;
  /** signed-in; needs-sign-in; signing-in; static-headers (an Authorization header in the config); none (never asked). */
  state: "signed-in" | "needs-sign-in" | "signing-in" | "static-headers" | "none";
  /** When the access token runs out (ISO time), if known. */
  expires: string | null;
  refreshable: boolean;
  /** How the gateway identifies itself: config client, metadata document, registered client. */
  client: "config" | "metadata-document" | "registered" | null;
  reason: string | null;
}

/** The command a user runs to sign in to a server. */
export function loginCommand(server: string): string {
  return `${GATEWAY_NAME} auth login ${/^[\w.-]+$/.test(server) ? server : JSON.stringify(server)}`;
}

/** Refresh this long before expiry: a fifth of the token's life, between 1 s and 5 min. */
function refreshLead(t: { obtained_at: number; expires_at?: number }): number {
  const life = (t.expires_at ?? 0) - t.obtained_at;
  return Math.min(5 * 60_000, Math.max(1000, life / 5));
}

interface Flow {
  done: Promise<"signed-in" | "not-needed">;
  url: string | undefined;
  watchers: Array<(url: string) => void>;
}

/** Timing of the background refresh (tests shorten it). */
export interface AuthTiming {
  loginTimeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

const DEFAULT_AUTH_TIMING: AuthTiming = { loginTimeoutMs: 10 * 60_000, retryBaseMs: 1000, retryMaxMs: 60_000 };

/**
 * The primary's OAuth state for every remote server: one sign-in flow per server however many ask, one
 * refresh at a time per server (a rotated refresh token used twice would end the grant), refresh before
 * expiry, and the "needs sign-in" verdict when the grant is gone. Events: "signedIn"(name),
 * "signedOut"(name), "needsSignIn"(name).
 */
export class OAuthManager extends EventEmitter {
  readonly store: CredentialStore;
  private readonly flows = new Map<string, Flow>();
  private readonly refreshing = new Map<string, Promise<boolean>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  /** Servers that answered 401 with no usable grant: they need a sign-in. */
  private readonly challenged = new Map<string, string>();
  private readonly timing: AuthTiming;
  private stopped = false;

  constructor(
    storeDir: string,
    private readonly lookup: (name: string) => RemoteServer | undefined,
    timing: Partial<AuthTiming> = {},
  ) {
    super();
    this.setMaxListeners(0);
    this.store = new CredentialStore(storeDir);
    this.timing = { ...DEFAULT_AUTH_TIMING, ...timing };
  }

  private server(name: string): RemoteServer {
    const s = this.lookup(name);
    if (!s) throw new GatewayError("USAGE", `no remote server "${name}" in the config (auth applies to servers with a "url")`);
    return s;
  }

  private creds(s: RemoteServer): ServerCredentials | undefined {
    return this.store.read(s.name, s.url);
  }

  private provider(s: RemoteServer): GatewayOAuthProvider {
    return new GatewayOAuthProvider({ server: s.name, url: s.url, store: this.store, settings: s.oauth ?? {} });
  }

  /**
   * The transport's auth provider for a server: the stored access token on every request; on a 401, one
   * refresh shared by everyone who hit it, or a SIGN_IN_REQUIRED error when no grant is left.
   */
  authProvider(name: string): AuthProvider {
    let handedOut: string | undefined;
    // Asked for at each connect: a grant obtained earlier is kept fresh from now on, and whether the server
    // needs a sign-in is found out afresh (its 401 says so again if it does).
    this.challenged.delete(name);
    this.schedule(name);
    return {
      token: async () => {
        const s = this.lookup(name);
        const c = s && this.creds(s);
        handedOut = c?.needs_sign_in ? undefined : c?.tokens?.access_token;
        return handedOut;
      },
      onUnauthorized: async () => {
        const s = this.server(name);
        // Someone refreshed since this request's token was read: the retry takes the new one.
        const current = this.creds(s)?.tokens?.access_token;
        if (current && current !== handedOut) return;
        if (await this.refresh(name)) return;
        throw this.signInError(name);
      },
    };
  }

  /** The error a client gets for a server that needs a sign-in. */
  signInError(name: string): GatewayError {
    return new GatewayError("SIGN_IN_REQUIRED", `server "${name}" needs a sign-in: run \`${loginCommand(name)}\``);
  }

  /** Refreshes the server's tokens, one refresh at a time; false (and "needs sign-in") when no grant is left. */
  refresh(name: string): Promise<boolean> {
    const running = this.refreshing.get(name);
    if (running) return running;
    const job = this.doRefresh(name).finally(() => this.refreshing.delete(name));
    this.refreshing.set(name, job);
    return job;
  }

  private async doRefresh(name: string): Promise<boolean> {
    const s = this.server(name);
    const c = this.creds(s);
    if (!c?.tokens?.refresh_token || c.needs_sign_in) {
      // No refresh token: only a browser can help, and no browser is opened unasked.
      this.markNeedsSignIn(s, c?.needs_sign_in ?? (c?.tokens ? "the access token expired and no refresh token was issued" : "not signed in"));
      return false;
    }
    const provider = this.provider(s);
    let result;
    try {
      result = await auth(provider, { serverUrl: s.url });
    } catch (err) {
      // A network failure or a server error: the grant may be fine, try again later (bounded, with backoff).
      log.warn(`${name}: token refresh failed: ${describeError(err)}`);
      this.scheduleRetry(s);
      return false;
    }
    if (result === "AUTHORIZED" && !provider.redirectWanted) {
      this.failures.delete(name);
      this.challenged.delete(name);
      log.info(`${name}: access token refreshed`);
      this.schedule(name);
      return true;
    }
    // The SDK dropped the refused grant (invalid_grant: revoked or expired) and wanted a browser.
    this.markNeedsSignIn(s, "the authorization server refused the stored grant (revoked or expired)");
    return false;
  }

  private markNeedsSignIn(s: RemoteServer, reason: string): void {
    const first = !this.challenged.has(s.name);
    this.challenged.set(s.name, reason);
    clearTimeout(this.timers.get(s.name));
    if (this.creds(s)?.tokens) {
      this.store.update(s.name, s.url, (c) => {
        delete c.tokens;
        c.needs_sign_in = reason;
      });
    }
    if (first) {
      log.warn(`${s.name}: needs a sign-in (${reason}): run \`${loginCommand(s.name)}\``);
      this.emit("needsSignIn", s.name);
    }
  }

  private scheduleRetry(s: RemoteServer): void {
    const n = (this.failures.get(s.name) ?? 0) + 1;
    this.failures.set(s.name, n);
    const expiresAt = this.creds(s)?.tokens?.expires_at;
    if (n > 8 || (expiresAt !== undefined && Date.now() > expiresAt)) return; // the next 401 tries again
    this.arm(s.name, Math.min(this.timing.retryBaseMs * 2 ** (n - 1), this.timing.retryMaxMs));
  }

  /** Arms the refresh of a server's tokens ahead of their expiry (call after start and after each sign-in). */
  schedule(name: string): void {
    const s = this.lookup(name);
    const t = s && this.creds(s)?.tokens;
    clearTimeout(this.timers.get(name));
    if (!t?.refresh_token || t.expires_at === undefined) return;
    this.arm(name, Math.max(0, t.expires_at - refreshLead(t) - Date.now()));
  }

  private arm(name: string, ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(name));
    const timer = setTimeout(() => void this.refresh(name).catch((err) => log.warn(`${name}: ${describeError(err)}`)), ms);
    timer.unref();
    this.timers.set(name, timer);
  }

  /**
   * Runs the interactive sign-in for a server, or joins the one in progress: every caller gets the same
   * authorization URL (`joined` for all but the first, so only one browser tab opens) and the same outcome.
   */
  login(name: string, onUrl: (url: string, joined: boolean) => void): Promise<"signed-in" | "not-needed"> {
    const s = this.server(name);
    let flow = this.flows.get(name);
    const joined = flow !== undefined;
    if (!flow) {
      const f: Flow = { url: undefined, watchers: [], done: Promise.resolve("not-needed") };
      f.done = signIn({
        server: s.name,
        url: s.url,
        store: this.store,
        settings: s.oauth ?? {},
        timeoutMs: this.timing.loginTimeoutMs,
        onAuthorizationUrl: (url) => {
          f.url = url;
          for (const w of f.watchers) w(url);
        },
      })
        .then((r) => {
          if (r === "signed-in") {
            this.challenged.delete(name);
            this.failures.delete(name);
            log.info(`${name}: signed in`);
            this.schedule(name);
            this.emit("signedIn", name);
          }
          return r;
        })
        .finally(() => this.flows.delete(name));
      this.flows.set(name, f);
      flow = f;
    }
    if (flow.url) onUrl(flow.url, joined);
    else flow.watchers.push((url) => onUrl(url, joined));
    return flow.done;
  }

  /** Revokes where the server supports it and deletes what is stored; says what happened. */
  async logout(name: string): Promise<string> {
    const s = this.server(name);
    const c = this.creds(s);
    clearTimeout(this.timers.get(name));
    if (!c) return "nothing was stored";
    const client = s.oauth?.clientId ? { client_id: s.oauth.clientId, ...(s.oauth.clientSecret ? { client_secret: s.oauth.clientSecret } : {}) } : c.client;
    const revoked = await revokeGrant(c, client);
    this.store.remove(name);
    this.emit("signedOut", name);
    return revoked;
  }

  /** The sign-in state of one server. */
  status(s: RemoteServer): AuthStatus {
    const c = this.creds(s);
    const t = c?.tokens;
    const hasAuthHeader = Object.keys(s.headers).some((h) => h.toLowerCase() === "authorization");
    const reason = c?.needs_sign_in ?? this.challenged.get(s.name) ?? null;
    const state: AuthStatus["state"] = this.flows.has(s.name)
      ? "signing-in"
      : t && !c?.needs_sign_in
        ? "signed-in"
        : reason
          ? "needs-sign-in"
          : hasAuthHeader
            ? "static-headers"
            : "none";
    const client = s.oauth?.clientId ? "config" : c?.client ? (c.client.client_id === s.oauth?.clientMetadataUrl ? "metadata-document" : "registered") : null;
    return {
      name: s.name,
      url: s.url,
      state,
      expires: state === "signed-in" && t?.expires_at ? new Date(t.expires_at).toISOString() : null,
      refreshable: state === "signed-in" && Boolean(t?.refresh_token),
      client,
      reason: state === "needs-sign-in" ? reason : null,
    };
  }

  /** True when the server answered 401 and no grant is left. */
  needsSignIn(name: string): boolean {
    return this.challenged.has(name);
  }

  /** Stops every timer; flows in progress end with their own timeout. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
