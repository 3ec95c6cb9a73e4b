// The primary's OAuth manager against the fixtures: one flow for many callers, refresh before expiry with
// the rotated refresh token saved, a 401 refreshed once and retried, a revoked grant → needs sign-in, logout.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { OAuthManager, type RemoteServer } from "../../src/auth/manager.js";
import { configureLogging } from "../../src/log.js";
import { waitFor } from "../e2e/harness.js";
import { startAuthServer, type AuthServer } from "../fixtures/oauth/authServer.js";
import { startProtectedServer, type ProtectedServer } from "../fixtures/oauth/protectedServer.js";

configureLogging({ level: "silent" });

async function browse(url: string): Promise<void> {
  const res = await fetch(url, { redirect: "follow" });
  await res.text();
}

describe("OAuth manager", () => {
  let as: AuthServer;
  let mcp: ProtectedServer;
  let manager: OAuthManager;
  let remote: RemoteServer;
  before(async () => {
    as = await startAuthServer();
    mcp = await startProtectedServer(as);
    remote = { name: "docs", url: mcp.url, headers: {} };
    manager = new OAuthManager(join(mkdtempSync(join(tmpdir(), "cmg-oauthm-")), "oauth"), (n) => (n === "docs" ? remote : undefined), { retryBaseMs: 50 });
  });
  after(async () => {
    manager.stop();
    await mcp.close();
    await as.close();
  });

  test("before any sign-in: needs sign-in, and the error names the command", async () => {
    assert.equal(manager.status(remote).state, "none");
    assert.equal(await manager.refresh("docs"), false);
    assert.equal(manager.status(remote).state, "needs-sign-in");
    assert.match(manager.signInError("docs").message, /run `claude-mpm-gateway auth login docs`/);
  });

  test("three callers at once: one flow, one registration, one authorization, the same URL for all", async () => {
    const regs = as.registrations.length;
    const auths = as.authorizations.length;
    const urls: string[] = [];
    let opened = 0;
    const onUrl = (url: string) => {
      urls.push(url);
      if (opened++ === 0) void browse(url);
    };
    const results = await Promise.all([manager.login("docs", onUrl), manager.login("docs", onUrl), manager.login("docs", onUrl)]);
    assert.deepEqual(results, ["signed-in", "signed-in", "signed-in"]);
    assert.equal(as.registrations.length, regs + 1);
    assert.equal(as.authorizations.length, auths + 1);
    assert.equal(new Set(urls).size, 1);
    assert.equal(urls.length, 3);
    const st = manager.status(remote);
    assert.equal(st.state, "signed-in");
    assert.equal(st.client, "registered");
    assert.equal(st.refreshable, true);
  });

  test("a 401 is refreshed once and the request retried", async () => {
    const before = as.tokenRequests.filter((t) => t.grant_type === "refresh_token").length;
    // Make the stored access token useless, as an expired one would be.
    manager.store.update("docs", mcp.url, (c) => (c.tokens!.access_token = "at-expired"));
    const client = new Client({ name: "t", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: manager.authProvider("docs") }));
    const r = await client.callTool({ name: "whoami", arguments: {} });
    assert.match((r.content as Array<{ text: string }>)[0]!.text, /^client=dcr-/);
    await client.close();
    assert.equal(as.tokenRequests.filter((t) => t.grant_type === "refresh_token").length, before + 1);
  });

  test("refreshed ahead of expiry; the rotated refresh token is saved at once", async () => {
    as.accessTtlS = 2;
    await manager.refresh("docs"); // tokens with a 2 s life
    const first = manager.store.read("docs", mcp.url)!.tokens!;
    manager.schedule("docs");
    await waitFor("a refresh before expiry", () => manager.store.read("docs", mcp.url)!.tokens!.refresh_token !== first.refresh_token, 15_000);
    const next = manager.store.read("docs", mcp.url)!.tokens!;
    assert.ok(next.obtained_at < first.expires_at!, "refreshed before the old token expired");
    as.accessTtlS = 3600;
    await manager.refresh("docs");
  });

  test("a revoked grant: needs sign-in, tokens dropped, no retry loop", async () => {
    const events: string[] = [];
    manager.once("needsSignIn", (n: string) => events.push(n));
    as.rejectRefresh = true;
    try {
      assert.equal(await manager.refresh("docs"), false);
    } finally {
      as.rejectRefresh = false;
    }
    assert.deepEqual(events, ["docs"]);
    const st = manager.status(remote);
    assert.equal(st.state, "needs-sign-in");
    assert.match(st.reason!, /refused the stored grant/);
    assert.equal(manager.store.read("docs", mcp.url)!.tokens, undefined);
    const refreshes = as.tokenRequests.length;
    assert.equal(await manager.refresh("docs"), false);
    assert.equal(as.tokenRequests.length, refreshes, "no request to the AS without a grant");
  });

  test("after a server reset (registration and grant gone) a sign-in registers afresh", async () => {
    as.forgetRegistrations();
    assert.equal(await manager.refresh("docs"), false);
    const regs = as.registrations.length;
    assert.equal(await manager.login("docs", (url) => void browse(url)), "signed-in");
    assert.equal(as.registrations.length, regs + 1);
    assert.equal(manager.status(remote).state, "signed-in");
  });

  test("logout revokes the refresh token and deletes the file", async () => {
    await manager.login("docs", (url) => void browse(url));
    const rt = manager.store.read("docs", mcp.url)!.tokens!.refresh_token!;
    assert.equal(await manager.logout("docs"), "revoked");
    assert.ok(as.revocations.includes(rt));
    assert.equal(existsSync(manager.store.pathOf("docs")), false);
    // Nothing is stored any more; the server's next 401 makes it "needs sign-in" without a request to the AS.
    assert.equal(manager.status(remote).state, "none");
    const requests = as.tokenRequests.length;
    assert.equal(await manager.refresh("docs"), false);
    assert.equal(manager.status(remote).state, "needs-sign-in");
    assert.equal(as.tokenRequests.length, requests);
  });
});
