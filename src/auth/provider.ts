import type {
  OAuthClientInformationContext,
  OAuthClientMetadata,
  OAuthClientProvider,
  OAuthDiscoveryState,
  StoredOAuthClientInformation,
  StoredOAuthTokens,
} from "@modelcontextprotocol/client";
import { GATEWAY_NAME } from "../version.js";
import { stampTokens, type CredentialStore } from "./store.js";

/** A config entry's `oauth` object. */
export interface OAuthSettings {
  /** A client registered by hand with the authorization server (used first when given). */
  clientId?: string;
  clientSecret?: string;
  scopes?: string[];
  /** The HTTPS URL of a Client ID Metadata Document describing this gateway, used where the AS supports it. */
  clientMetadataUrl?: string;
}

/** Where the browser comes back to when no flow runs: never listened on, only registered. */
export const IDLE_REDIRECT = "http://127.0.0.1/callback";

/** How one provider instance is used. */
export interface ProviderOptions {
  server: string;
  url: string;
  store: CredentialStore;
  settings: OAuthSettings;
  /** A sign-in in progress: the loopback listener's URL, the state it checks, and who takes the browser URL. */
  flow?: { redirectUrl: string; state: string; onAuthorizationUrl(url: URL): void };
}

/**
 * The gateway's side of the SDK's OAuth client: storage of the client identity, tokens and discovery in the
 * state dir, and the browser hand-off. The SDK's `auth()` drives discovery, registration, PKCE, `resource`
 * and refresh; this class only keeps what it produces and says where the user goes.
 *
 * Client identity, in the spec's order of preference (authorization §Client Registration): a client from the
 * config entry, then a Client ID Metadata Document where the AS advertises support, then dynamic registration.
 * Without a flow (a background refresh), a needed browser visit only records that the server needs sign-in.
 */
export class GatewayOAuthProvider implements OAuthClientProvider {
  /** Set when the SDK asked for a browser visit that no flow was there to make. */
  redirectWanted = false;
  /** A client registered by this very flow, good for its code exchange whatever was stored before. */
  private registeredNow = false;
  private verifier: string | undefined;

  constructor(private readonly opts: ProviderOptions) {}

  get redirectUrl(): string {
    return this.opts.flow?.redirectUrl ?? this.stored()?.redirect_uri ?? IDLE_REDIRECT;
  }

  get clientMetadataUrl(): string | undefined {
    return this.opts.settings.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    const scopes = this.opts.settings.scopes;
    return {
      client_name: GATEWAY_NAME,
      redirect_uris: [this.redirectUrl],
      // Asked for explicitly: an AS that issues refresh tokens only to clients registered for the grant would
      // otherwise leave every client to sign in again each hour.
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: this.opts.settings.clientSecret ? "client_secret_basic" : "none",
      application_type: "native",
      ...(scopes?.length ? { scope: scopes.join(" ") } : {}),
    };
  }

  state(): string {
    return this.opts.flow?.state ?? "";
  }

  private stored() {
    return this.opts.store.read(this.opts.server, this.opts.url);
  }

  private save(change: Parameters<CredentialStore["update"]>[2]): void {
    this.opts.store.update(this.opts.server, this.opts.url, change);
  }

  clientInformation(_ctx?: OAuthClientInformationContext): StoredOAuthClientInformation | undefined {
    const { clientId, clientSecret } = this.opts.settings;
    const stored = this.stored();
    if (clientId) {
      const issuer = stored?.static_issuer;
      return { client_id: clientId, ...(clientSecret ? { client_secret: clientSecret } : {}), ...(issuer ? { issuer } : {}) };
    }
    if (!stored?.client) return undefined;
    // A registered client is bound to its redirect URI; a flow listening elsewhere registers again (an AS may
    // match the URI exactly, port included). A metadata-document client is not registered: its URL is its id.
    const byDocument = stored.client.client_id === this.opts.settings.clientMetadataUrl;
    if (this.opts.flow && !byDocument && !this.registeredNow) {
      if (stored.redirect_uri !== this.opts.flow.redirectUrl) return undefined;
      // The grant is gone (revoked, expired, never obtained): the registration may be stale too (a server
      // reset, a cleanup of idle clients), and an AS shows an unknown client an error page, never our
      // listener. A sign-in without a live grant registers afresh; one with a live grant keeps it.
      if (!stored.tokens || stored.needs_sign_in) return undefined;
    }
    return stored.client;
  }

  saveClientInformation(info: StoredOAuthClientInformation, _ctx?: OAuthClientInformationContext): void {
    // The SDK stamps the issuer onto the config's client too: only the stamp is kept, the config's secret
    // never gets copied into the state dir.
    if (this.opts.settings.clientId && info.client_id === this.opts.settings.clientId) {
      if (info.issuer) this.save((c) => (c.static_issuer = info.issuer));
      return;
    }
    const redirect = this.redirectUrl;
    this.registeredNow = true;
    this.save((c) => {
      c.client = info;
      c.redirect_uri = redirect;
    });
  }

  tokens(_ctx?: OAuthClientInformationContext): StoredOAuthTokens | undefined {
    const t = this.stored()?.tokens;
    if (!t) return undefined;
    const { obtained_at: _o, expires_at: _e, ...tokens } = t;
    return tokens;
  }

  saveTokens(tokens: StoredOAuthTokens, _ctx?: OAuthClientInformationContext): void {
    // Written before anything else happens: a rotated refresh token lost in a crash would end the grant.
    this.save((c) => {
      c.tokens = stampTokens(tokens);
      delete c.needs_sign_in;
    });
  }

  redirectToAuthorization(url: URL): void {
    if (this.opts.flow) this.opts.flow.onAuthorizationUrl(url);
    else this.redirectWanted = true;
  }

  saveCodeVerifier(codeVerifier: string): void {
    // Only in memory: a flow lives in one process and a verifier must not outlive it.
    this.verifier = codeVerifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error("no PKCE verifier: the sign-in was not started by this process");
    return this.verifier;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.stored()?.discovery;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.save((c) => {
      c.discovery = state;
    });
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    if (scope === "verifier") {
      this.verifier = undefined;
      return;
    }
    if (!this.stored()) return;
    this.save((c) => {
      if (scope === "all" || scope === "client") {
        delete c.client;
        delete c.redirect_uri;
      }
      if (scope === "all" || scope === "tokens") delete c.tokens;
      if (scope === "all" || scope === "discovery") delete c.discovery;
    });
  }
}
