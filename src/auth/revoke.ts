import { discoverOAuthServerInfo, type StoredOAuthClientInformation } from "@modelcontextprotocol/client";
import { describeError } from "../errors.js";
import type { ServerCredentials } from "./store.js";

/**
 * Revokes the stored grant at the authorization server (RFC 7009): the refresh token first (which ends the
 * grant on most servers), then the access token. Resolves with what happened, never rejects: a server
 * without a revocation endpoint, or one that cannot be reached, does not keep the tokens on disk.
 */
export async function revokeGrant(creds: ServerCredentials, client: StoredOAuthClientInformation | undefined): Promise<string> {
  const tokens = creds.tokens;
  if (!tokens) return "no tokens were stored";
  if (!client) return "not revoked: no client identity is known for it";
  // OpenID metadata types lack the RFC 8414 field; both documents may carry it.
  const revocation = (m: unknown) => (m as { revocation_endpoint?: unknown } | undefined)?.revocation_endpoint;
  let endpoint = revocation(creds.discovery?.authorizationServerMetadata);
  try {
    endpoint ??= revocation((await discoverOAuthServerInfo(creds.url)).authorizationServerMetadata);
  } catch (err) {
    return `not revoked: discovery failed (${describeError(err)})`;
  }
  if (typeof endpoint !== "string") return "not revoked: the authorization server offers no revocation";
  const pairs: Array<[string, string]> = [];
  if (tokens.refresh_token) pairs.push([tokens.refresh_token, "refresh_token"]);
  pairs.push([tokens.access_token, "access_token"]);
  for (const [token, hint] of pairs) {
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    const form = new URLSearchParams({ token, token_type_hint: hint });
    if (client.client_secret) {
      // RFC 6749 §2.3.1: both halves form-encoded before Basic.
      const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
      headers.authorization = `Basic ${Buffer.from(`${enc(client.client_id)}:${enc(client.client_secret)}`).toString("base64")}`;
    } else form.set("client_id", client.client_id);
    try {
      const res = await fetch(endpoint, { method: "POST", headers, body: form, signal: AbortSignal.timeout(15_000) });
      await res.body?.cancel().catch(() => undefined);
      if (!res.ok) return `revocation refused (HTTP ${res.status})`;
    } catch (err) {
      return `not revoked: ${describeError(err)}`;
    }
  }
  return "revoked";
}
