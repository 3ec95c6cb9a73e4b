// OAuth for remote servers against the built binary: the fixture authorization server and protected MCP
// server on 127.0.0.1, `$BROWSER` a script that follows the redirects. Sign-in by dynamic registration, by a
// client metadata document and by a static client; refresh on expiry; a revoked grant; two sign-ins at
// once (terminals, or clients taking URL elicitations) → one flow, one registration; the tokens file 0600; no
// token in any log or output.
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import {
  connectClient,
  gatewayEnv,
  expectNoProcessLeft,
  installBinary,
  runAsync,
  stateFiles,
  stopGateway,
  tempHome,
  waitFor,
  type Install,
  type RunResult,
} from "./harness.js";
import { fakeBrowser, startOAuthFixtures, writeConfig, type FakeBrowser, type OAuthFixtures } from "./oauthKit.js";

const CIMD_URL = "https://gateway.example/oauth/client-metadata.json";

describe("OAuth for remote servers", () => {
  let install: Install;
  let home: string;
  let fx: OAuthFixtures | undefined;
  let browser: FakeBrowser;
  const outputs: string[] = [];
  let env: Record<string, string>;

  beforeEach(() => {
    install = installBinary();
    home = tempHome();
    browser = fakeBrowser();
    env = { BROWSER: browser.command, CLAUDE_MPM_GATEWAY_BACKOFF_MS: "200" };
    outputs.length = 0;
  });
  afterEach(async () => {
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
    // No token the authorization server issued may appear in any log or command output.
    const logs = join(home, "mcp", "logs");
    const texts = [...outputs, ...(existsSync(logs) ? readdirSync(logs).map((f) => readFileSync(join(logs, f), "utf8")) : [])].join("\n");
    for (const t of fx?.as.issued ?? []) assert.ok(!texts.includes(t), "a token reached a log or an output");
    await fx?.close();
    fx = undefined;
    install.cleanup();
  });

  const cli = async (args: string[]): Promise<RunResult> => {
    const r = await runAsync(install, home, args, env);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const authStatus = async () => JSON.parse((await cli(["auth", "status", "--json"])).stdout) as Array<Record<string, unknown>>;
  const oauthDir = () => join(home, "mcp", "oauth");
  const tokensFile = () => {
    const files = readdirSync(oauthDir());
    assert.equal(files.length, 1);
    return join(oauthDir(), files[0]!);
  };

  test("dynamic registration: needs sign-in, tools hidden, call names the command; after login every client uses it", async () => {
    fx = await startOAuthFixtures();
    const added = await cli(["add", "docs", "--url", fx.mcp.url]);
    assert.equal(added.status, 0, added.stderr);
    assert.match(added.stdout, /If it asks for a sign-in: claude-mpm-gateway auth login docs\n$/);
    const { client } = await connectClient(install, home, [], env);
    let changed = 0;
    client.setNotificationHandler("notifications/tools/list_changed", () => void changed++);
    await waitFor("docs to need sign-in", async () => (await authStatus())[0]?.state === "needs-sign-in", 30_000);
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(!tools.some((t) => t.startsWith("docs__")), "no tool of a server that needs sign-in");
    const refused = await client.callTool({ name: "docs__whoami", arguments: {} });
    assert.equal(refused.isError, true);
    assert.match(JSON.stringify(refused.content), /claude-mpm-gateway auth login docs/);
    const status = JSON.parse((await cli(["status", "--json"])).stdout) as { downstream: Array<{ name: string; state: string }> };
    assert.equal(status.downstream.find((d) => d.name === "docs")?.state, "needs-sign-in");

    const login = await cli(["auth", "login", "docs"]);
    assert.equal(login.status, 0, login.stderr);
    assert.match(login.stdout, /http:\/\/127\.0\.0\.1:\d+\/authorize\?/);
    assert.match(login.stdout, /Signed in to "docs"/);
    assert.equal(browser.opened().length, 1);
    assert.equal(fx.as.registrations.length, 1);
    assert.deepEqual(fx.as.registrations[0]!.grant_types, ["authorization_code", "refresh_token"]);
    assert.equal(fx.as.authorizations[0]!.resource, fx.mcp.url);
    assert.equal(statSync(tokensFile()).mode & 0o777, 0o600);

    await waitFor("docs tools listed", async () => (await client.listTools()).tools.some((t) => t.name === "docs__whoami"), 30_000);
    await waitFor("tools/list_changed after the sign-in", () => changed > 0, 10_000);
    const r = await client.callTool({ name: "docs__whoami", arguments: {} });
    assert.match(JSON.stringify(r.content), /client=dcr-/);
    // A second client needs no sign-in of its own.
    const second = await connectClient(install, home, [], env);
    const r2 = await second.client.callTool({ name: "docs__whoami", arguments: {} });
    assert.match(JSON.stringify(r2.content), /client=dcr-/);
    const st = (await authStatus())[0]!;
    assert.equal(st.state, "signed-in");
    assert.equal(st.client, "registered");
    await second.client.close();
    await client.close();
  });

  test("clients that take URL elicitations are handed the sign-in URL by the call itself: two at once, one flow", async () => {
    fx = await startOAuthFixtures();
    writeConfig(home, { docs: { url: fx.mcp.url } });
    const completed: string[] = [];
    const open = async () => {
      const transport = new StdioClientTransport({ command: install.bin, env: gatewayEnv(install, home, env), stderr: "pipe" });
      const client = new Client({ name: "e2e-elicit", version: "1.0.0" }, { capabilities: { elicitation: { url: {} } } });
      client.setRequestHandler("elicitation/create", () => ({ action: "cancel" as const }));
      client.setNotificationHandler("notifications/elicitation/complete", (n) => void completed.push(n.params.elicitationId));
      await client.connect(transport);
      return client;
    };
    const [a, b] = await Promise.all([open(), open()]);
    await waitFor("docs to need sign-in", async () => (await authStatus())[0]?.state === "needs-sign-in", 30_000);
    type Elicit = { code?: number; data?: { elicitations?: Array<{ mode: string; url: string; elicitationId: string }> } };
    const ask = (c: Client) =>
      c.callTool({ name: "docs__whoami", arguments: {} }).then(
        () => assert.fail("the call should ask for a sign-in"),
        (e: Elicit) => e,
      );
    const [ea, eb] = await Promise.all([ask(a), ask(b)]);
    for (const e of [ea, eb]) {
      assert.equal(e.code, -32042);
      assert.equal(e.data!.elicitations![0]!.mode, "url");
    }
    const elicitation = ea.data!.elicitations![0]!;
    assert.match(elicitation.url, /^http:\/\/127\.0\.0\.1:\d+\/authorize\?/);
    assert.equal(eb.data!.elicitations![0]!.url, elicitation.url, "one flow for both clients");
    // The user opens it; the gateway's own loopback listener finishes the sign-in.
    await (await fetch(elicitation.url, { redirect: "follow" })).text();
    for (const c of [a, b]) {
      await waitFor("docs tools listed", async () => (await c.listTools()).tools.some((t) => t.name === "docs__whoami"), 30_000);
      assert.match(JSON.stringify((await c.callTool({ name: "docs__whoami", arguments: {} })).content), /client=dcr-/);
    }
    await waitFor("elicitation/complete for both", () => completed.length === 2, 10_000);
    assert.equal(fx.as.registrations.length, 1);
    assert.equal(fx.as.authorizations.length, 1);
    assert.equal(browser.opened().length, 0, "the primary opens no browser itself");
    await Promise.all([a.close(), b.close()]);
  });

  test("client ID metadata document, and a static client from the config: no registration", async () => {
    fx = await startOAuthFixtures({
      dcr: false,
      cimd: { [CIMD_URL]: { client_id: CIMD_URL, client_name: "claude-mpm-gateway", redirect_uris: ["http://127.0.0.1/callback"] } },
      staticClients: { "static-app": "s3cret" },
    });
    // Each added with one command.
    const adds = [
      ["add", "bydoc", "--url", fx.mcp.url, "--client-metadata-url", CIMD_URL],
      ["add", "bystatic", "--url", fx.mcp.url, "--client-id", "static-app", "--client-secret", "s3cret", "--scope", "mcp"],
    ];
    for (const args of adds) assert.equal((await cli(args)).status, 0);
    const config = JSON.parse(readFileSync(stateFiles(home).config, "utf8")) as { mcpServers: Record<string, unknown> };
    assert.deepEqual(config.mcpServers.bystatic, { url: fx.mcp.url, oauth: { clientId: "static-app", clientSecret: "s3cret", scopes: ["mcp"] } });
    for (const name of ["bydoc", "bystatic"]) {
      const login = await cli(["auth", "login", name]);
      assert.equal(login.status, 0, login.stderr);
    }
    assert.equal(fx.as.registrations.length, 0);
    assert.deepEqual(
      fx.as.authorizations.map((a) => a.client_id),
      [CIMD_URL, "static-app"],
    );
    // The config's scopes, plus offline_access the SDK adds for a refresh token where the AS offers it.
    assert.deepEqual(fx.as.authorizations[1]!.scope!.split(" "), ["mcp", "offline_access"]);
    const { client } = await connectClient(install, home, [], env);
    await waitFor("both servers' tools", async () => (await client.listTools()).tools.filter((t) => t.name.endsWith("__whoami")).length === 2, 30_000);
    assert.match(JSON.stringify((await client.callTool({ name: "bydoc__whoami", arguments: {} })).content), new RegExp(`client=${CIMD_URL}`));
    assert.match(JSON.stringify((await client.callTool({ name: "bystatic__whoami", arguments: {} })).content), /client=static-app/);
    const states = Object.fromEntries((await authStatus()).map((s) => [s.name, s.client]));
    assert.deepEqual(states, { bydoc: "metadata-document", bystatic: "config" });
    for (const f of readdirSync(join(home, "mcp", "oauth"))) assert.doesNotMatch(readFileSync(join(home, "mcp", "oauth", f), "utf8"), /s3cret/);
    await client.close();
  });

  test("refresh before expiry; a revoked grant → needs sign-in, no crash loop; logout revokes and deletes", async () => {
    fx = await startOAuthFixtures({ accessTtlS: 4 });
    writeConfig(home, { docs: { url: fx.mcp.url } });
    assert.equal((await cli(["auth", "login", "docs"])).status, 0);
    const { client } = await connectClient(install, home, [], env);
    await waitFor("docs tools", async () => (await client.listTools()).tools.some((t) => t.name === "docs__whoami"), 30_000);
    const refreshes = () => fx!.as.tokenRequests.filter((t) => t.grant_type === "refresh_token").length;
    await waitFor("a refresh ahead of expiry", () => refreshes() >= 2, 30_000);
    assert.match(JSON.stringify((await client.callTool({ name: "docs__whoami", arguments: {} })).content), /client=dcr-/);

    fx.as.rejectRefresh = true;
    await waitFor("docs to need sign-in", async () => (await authStatus())[0]?.state === "needs-sign-in", 30_000);
    await waitFor("docs tools gone", async () => !(await client.listTools()).tools.some((t) => t.name === "docs__whoami"), 30_000);
    const refused = await client.callTool({ name: "docs__whoami", arguments: {} });
    assert.match(JSON.stringify(refused.content), /auth login docs/);
    const before = fx.as.tokenRequests.length;
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(fx.as.tokenRequests.length - before <= 1, "no refresh loop against a refused grant");

    fx.as.rejectRefresh = false;
    assert.equal((await cli(["auth", "login", "docs"])).status, 0);
    await waitFor("docs back", async () => (await client.listTools()).tools.some((t) => t.name === "docs__whoami"), 30_000);
    const logout = await cli(["auth", "logout", "docs"]);
    assert.equal(logout.status, 0, logout.stderr);
    assert.match(logout.stdout, /Signed out of "docs" \(revoked\)/);
    assert.ok(fx.as.revocations.length >= 1);
    assert.equal(readdirSync(join(home, "mcp", "oauth")).length, 0);
    await client.close();
  });

  test("two sign-ins at once with no gateway running: one primary, one flow, one registration", async () => {
    fx = await startOAuthFixtures();
    writeConfig(home, { docs: { url: fx.mcp.url } });
    const [a, b] = await Promise.all([cli(["auth", "login", "docs"]), cli(["auth", "login", "docs"])]);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(fx.as.registrations.length, 1);
    assert.equal(fx.as.authorizations.length, 1);
    const urlOf = (r: RunResult) => /(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)/.exec(r.stdout)?.[1];
    assert.equal(urlOf(a), urlOf(b));
    assert.ok(existsSync(stateFiles(home).json), "the login ran in a primary");
    assert.equal(browser.opened().length, 1, "one browser tab, not one per terminal");
    assert.equal(statSync(tokensFile()).mode & 0o777, 0o600);
    const st = (await authStatus())[0]!;
    assert.equal(st.state, "signed-in");
    assert.equal(st.client, "registered");
    assert.equal(st.refreshable, true);
    const logout = await cli(["auth", "logout", "docs"]);
    assert.equal(logout.status, 0, logout.stderr);
    assert.match(logout.stdout, /Signed out of "docs" \(revoked\)/);
    assert.deepEqual(readdirSync(oauthDir()), []);
  });
});
