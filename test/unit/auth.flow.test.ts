// The interactive sign-in against the fixture authorization server and protected MCP server: each way of
// getting a client identity, PKCE and `resource` on the wire, the `state` check, and a 0600 store.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { signIn } from "../../src/auth/flow.js";
import { GatewayOAuthProvider } from "../../src/auth/provider.js";
import { CredentialStore } from "../../src/auth/store.js";
import { configureLogging } from "../../src/log.js";
import { startAuthServer, type AuthServer } from "../fixtures/oauth/authServer.js";
import { startProtectedServer, type ProtectedServer } from "../fixtures/oauth/protectedServer.js";

configureLogging({ level: "silent" });

/** The user's browser: follows the authorization server's redirect back to the loopback listener. */
async function browse(url: string): Promise<void> {
  const res = await fetch(url, { redirect: "follow" });
  await res.text();
}

async function whoami(store: CredentialStore, server: string, url: string, settings = {}): Promise<string> {
  const provider = new GatewayOAuthProvider({ server, url, store, settings });
  const client = new Client({ name: "t", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  try {
    const r = await client.callTool({ name: "whoami", arguments: {} });
    return (r.content as Array<{ text: string }>)[0]!.text;
  } finally {
    await client.close();
  }
}

const newStore = () => new CredentialStore(join(mkdtempSync(join(tmpdir(), "cmg-oauth-")), "oauth"));

describe("sign-in", () => {
  let as: AuthServer;
  let mcp: ProtectedServer;
  before(async () => {
    as = await startAuthServer({
      cimd: { "https://gateway.example/oauth/client.json": { client_id: "https://gateway.example/oauth/client.json", client_name: "claude-mpm-gateway", redirect_uris: ["http://127.0.0.1/callback"] } },
      staticClients: { "static-app": "s3cret" },
    });
    mcp = await startProtectedServer(as);
  });
  after(async () => {
    await mcp.close();
    await as.close();
  });

  test("dynamic registration: refresh grant asked for, PKCE S256 and resource sent, tokens stored 0600", async () => {
    const store = newStore();
    const before = as.registrations.length;
    const r = await signIn({ server: "docs", url: mcp.url, store, settings: {}, onAuthorizationUrl: browse, timeoutMs: 30_000 });
    assert.equal(r, "signed-in");
    assert.equal(as.registrations.length, before + 1);
    assert.deepEqual(as.registrations.at(-1)!.grant_types, ["authorization_code", "refresh_token"]);
    const authz = as.authorizations.at(-1)!;
    assert.equal(authz.code_challenge_method, "S256");
    assert.equal(authz.resource, mcp.url);
    assert.match(authz.redirect_uri!, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const file = store.pathOf("docs");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(store.dir).mode & 0o777, 0o700);
    const saved = store.read("docs", mcp.url)!;
    assert.ok(saved.tokens?.access_token.startsWith("at-"));
    assert.ok(saved.tokens?.expires_at && saved.tokens.expires_at > Date.now());
    assert.match(await whoami(store, "docs", mcp.url), /^client=dcr-/);

    // Signing in again listens on the registered port and keeps the registration.
    await signIn({ server: "docs", url: mcp.url, store, settings: {}, onAuthorizationUrl: browse, timeoutMs: 30_000 });
    assert.equal(as.registrations.length, before + 1);
  });

  test("client ID metadata document where the server supports it: no registration", async () => {
    const store = newStore();
    const before = as.registrations.length;
    const settings = { clientMetadataUrl: "https://gateway.example/oauth/client.json" };
    await signIn({ server: "cimd", url: mcp.url, store, settings, onAuthorizationUrl: browse, timeoutMs: 30_000 });
    assert.equal(as.registrations.length, before);
    assert.equal(as.authorizations.at(-1)!.client_id, settings.clientMetadataUrl);
    assert.equal(await whoami(store, "cimd", mcp.url, settings), `client=${settings.clientMetadataUrl}`);
  });

  test("a static client from the config: used first, its secret never written to the store", async () => {
    const store = newStore();
    const before = as.registrations.length;
    const settings = { clientId: "static-app", clientSecret: "s3cret" };
    await signIn({ server: "static", url: mcp.url, store, settings, onAuthorizationUrl: browse, timeoutMs: 30_000 });
    assert.equal(as.registrations.length, before);
    assert.equal(as.authorizations.at(-1)!.client_id, "static-app");
    assert.doesNotMatch(readFileSync(store.pathOf("static"), "utf8"), /s3cret/);
    assert.equal(await whoami(store, "static", mcp.url, settings), "client=static-app");
  });

  test("a callback with another state is refused and the flow goes on", async () => {
    const store = newStore();
    const r = await signIn({
      server: "state",
      url: mcp.url,
      store,
      settings: {},
      timeoutMs: 30_000,
      onAuthorizationUrl: (url) => {
        void (async () => {
          const u = new URL(url);
          const forged = new URL(u.searchParams.get("redirect_uri")!);
          forged.searchParams.set("code", "forged");
          forged.searchParams.set("state", "not-the-state");
          const res = await fetch(forged);
          assert.equal(res.status, 400);
          await res.text();
          await browse(url);
        })();
      },
    });
    assert.equal(r, "signed-in");
  });

  test("a server that asks for no authorization needs no sign-in", async () => {
    const store = newStore();
    const r = await signIn({ server: "open", url: `${as.issuer}/.well-known/oauth-authorization-server`, store, settings: {}, onAuthorizationUrl: browse, timeoutMs: 5000 });
    assert.equal(r, "not-needed");
  });
});
