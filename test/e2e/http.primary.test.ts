// The primary's HTTP endpoint (config.json `"http": { "port": 0 }`): the same tools and downstream servers as
// the stdio sessions, both eras over real HTTP with the SDK v2 client, its token file, status, and the guard.
import assert from "node:assert/strict";
import { request } from "node:http";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";
import { SERVERS, textOf, waitForTools, writeConfig, downstreamStatus } from "./downstreamKit.js";
import { connectClient, expectNoProcessLeft, installBinary, killProcessesOf, run, stateDirOf, statusJson, stopGateway, tempHome, type Install } from "./harness.js";
import { connectHttp, rawPost } from "./httpKit.js";

let install: Install;
before(() => (install = installBinary()));
after(() => install.cleanup());
// A failed test must not leave its primary (whose HTTP endpoint keeps it up) to fail the next one's check.
afterEach(() => killProcessesOf(install.bin));

/** A POST whose Host header names another site, as a page that rebound its domain to 127.0.0.1 would send. */
function reboundPost(url: string, token: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent: false, headers: { host: `evil.example:${u.port}`, authorization: `Bearer ${token}`, "content-type": "application/json" } },
      (res) => (res.resume(), resolve(res.statusCode ?? 0)),
    );
    req.on("error", reject);
    req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
  });
}

test("the primary's endpoint: both eras get the stdio sessions' tools and downstream servers; token 0600; status names the URL; 401/403", async () => {
  const home = tempHome();
  writeConfig(home, JSON.stringify({ http: { port: 0 }, mcpServers: { everything: SERVERS.everything() } }));
  const stdio = await connectClient(install, home);
  try {
    await waitForTools(stdio.client, "the downstream tools over stdio", (n) => n.includes("everything__echo"));
    const { json } = statusJson(install, home);
    const url = json.http_url as string;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const tokenFile = join(stateDirOf(home), "http.token");
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const token = readFileSync(tokenFile, "utf8").trim();
    assert.match(run(install, home, ["status"]).stdout, new RegExp(`HTTP: ${url.replace(/[./]/g, "\\$&")} \\(bearer token in ${tokenFile.replace(/[./]/g, "\\$&")}\\)`));
    const serverPid = downstreamStatus(install, home).find((d) => d.name === "everything")?.pid;
    assert.ok(serverPid);

    const stdioTools = (await stdio.client.listTools()).tools.map((t) => t.name).sort();
    for (const mode of ["auto", "legacy"] as const) {
      const { client } = await connectHttp(url, token, mode);
      try {
        assert.equal(client.getProtocolEra(), mode === "auto" ? "modern" : "legacy");
        assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), stdioTools, "the same tools as a stdio session");
        assert.equal(textOf(await client.callTool({ name: "everything__echo", arguments: { message: mode } })), `Echo: ${mode}`);
        assert.match(textOf(await client.callTool({ name: "calculator", arguments: { operation: "multiply", a: 6, b: 7 } })), /42/);
      } finally {
        await client.close();
      }
    }
    // One downstream server for every channel: the HTTP calls went to the process the stdio session uses.
    const after = downstreamStatus(install, home).filter((d) => d.name === "everything");
    assert.deepEqual(after.map((d) => d.pid), [serverPid]);

    assert.equal((await rawPost(url, {})).status, 401);
    assert.equal((await rawPost(url, { authorization: `Bearer ${token.slice(0, -1)}` })).status, 401);
    assert.equal((await rawPost(url, { authorization: `Bearer ${token}`, origin: "http://evil.example" })).status, 403);
    assert.equal(await reboundPost(url, token), 403);
  } finally {
    await stdio.client.close();
  }

  // With its endpoint on, the primary outlives its last bridge (HTTP clients come without one).
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(statusJson(install, home).code, 0, "still running after the linger");
  stopGateway(install, home);
  await expectNoProcessLeft(install.bin);
});

test("no http key: no endpoint, no token file, no HTTP line in status", async () => {
  const home = tempHome();
  writeConfig(home, {});
  const stdio = await connectClient(install, home);
  try {
    const { json } = statusJson(install, home);
    assert.equal(json.http_url, undefined);
    assert.throws(() => statSync(join(stateDirOf(home), "http.token")), /ENOENT/);
    assert.doesNotMatch(run(install, home, ["status"]).stdout, /HTTP:/);
  } finally {
    await stdio.client.close();
    stopGateway(install, home);
  }
  await expectNoProcessLeft(install.bin);
});
