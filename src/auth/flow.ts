import { randomBytes } from "node:crypto";
import { auth, extractWWWAuthenticateParams, type FetchLike } from "@modelcontextprotocol/client";
import { GatewayError, describeError, isGatewayError } from "../errors.js";
import { listenLoopback } from "./loopback.js";
import { GatewayOAuthProvider, type OAuthSettings } from "./provider.js";
import type { CredentialStore } from "./store.js";

/** One interactive sign-in. */
export interface SignInOptions {
  server: string;
  url: string;
  store: CredentialStore;
  settings: OAuthSettings;
  /** Receives the authorization URL the user must open (printed and handed to the browser by the caller). */
  onAuthorizationUrl(url: string): void;
  /** How long the user has to finish in the browser. */
  timeoutMs: number;
  signal?: AbortSignal;
  fetchFn?: FetchLike;
}

/** What the server's 401 says: where its resource metadata is and which scope it wants. */
export interface Challenge {
  resourceMetadataUrl?: URL;
  scope?: string;
}

/**
 * Asks the server once without a token and reads its 401 challenge (authorization §Protected Resource Metadata
 * Discovery: the `resource_metadata` of `WWW-Authenticate` comes first, the well-known URIs after). Returns
 * null when the server answers without asking for authorization.
 */
export async function probeChallenge(url: string, fetchFn: FetchLike = fetch): Promise<Challenge | null> {
  let res: Response;
  try {
    res = await fetchFn(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "ping" }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new GatewayError("OAUTH_FAILED", `cannot reach ${url}: ${describeError(err)}`, { cause: err });
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status !== 401) return null;
  const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(res);
  return { ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}), ...(scope ? { scope } : {}) };
}

/**
 * Runs the authorization code flow for one server through the SDK's `auth()`: discovery, client identity
 * (config client → metadata document → dynamic registration), PKCE S256 and the `resource` parameter are
 * the SDK's; the loopback listener, the `state` check and the storage are ours. Resolves once tokens are
 * stored; "not-needed" when the server does not ask for authorization.
 */
export async function signIn(o: SignInOptions): Promise<"signed-in" | "not-needed"> {
  const challenge = await probeChallenge(o.url, o.fetchFn);
  if (!challenge) return "not-needed";
  const registeredPort = portOf(o.store.read(o.server, o.url)?.redirect_uri);
  const listener = await listenLoopback(o.server, registeredPort);
  try {
    const state = randomBytes(24).toString("base64url");
    let authorizationUrl: URL | undefined;
    const provider = new GatewayOAuthProvider({
      server: o.server,
      url: o.url,
      store: o.store,
      settings: o.settings,
      flow: { redirectUrl: listener.redirectUrl, state, onAuthorizationUrl: (u) => (authorizationUrl = u) },
    });
    const scope = o.settings.scopes?.length ? o.settings.scopes.join(" ") : challenge.scope;
    const common = {
      serverUrl: o.url,
      ...(challenge.resourceMetadataUrl ? { resourceMetadataUrl: challenge.resourceMetadataUrl } : {}),
      ...(scope ? { scope } : {}),
      ...(o.fetchFn ? { fetchFn: o.fetchFn } : {}),
    };
    // A sign-in asked for by the user starts afresh: a stored refresh token is not a sign-in.
    const first = await sdk(o.server, () => auth(provider, { ...common, forceReauthorization: true }));
    if (first === "AUTHORIZED") return "signed-in";
    if (!authorizationUrl) throw new GatewayError("OAUTH_FAILED", `the sign-in for "${o.server}" produced no authorization URL`);
    o.onAuthorizationUrl(authorizationUrl.href);
    const callback = await listener.wait(state, o.timeoutMs, o.signal);
    const done = await sdk(o.server, () => auth(provider, { ...common, authorizationCode: callback.code, ...(callback.iss ? { iss: callback.iss } : {}) }));
    if (done !== "AUTHORIZED") throw new GatewayError("OAUTH_FAILED", `the authorization server did not issue tokens for "${o.server}"`);
    return "signed-in";
  } finally {
    await listener.close();
  }
}

/** Runs an SDK auth step, turning its failures into our error with the server named. */
async function sdk<T>(server: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (isGatewayError(err)) throw err;
    throw new GatewayError("OAUTH_FAILED", `sign-in for "${server}" failed: ${describeError(err)}`, { cause: err });
  }
}

function portOf(uri: string | undefined): number | undefined {
  if (!uri) return undefined;
  try {
    const port = Number(new URL(uri).port);
    return port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}
