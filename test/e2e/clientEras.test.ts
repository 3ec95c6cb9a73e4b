// Both protocol eras through the built binary: a 2026-07-28 client (server/discover, per-request _meta) and
// a 2025-era client (initialize) share one primary, each with a raw JSON-lines driver and with the SDK's v2
// Client; a modern session, and its subscriptions/listen stream, go on across kill -9 of the primary.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { expectNoProcessLeft, gatewayEnv, installBinary, primaries, readGatewayJson, stopGateway, tempHome, waitFor, type Install } from "./harness.js";
import { RawSession } from "./rawSession.js";
import { SERVERS, textOf, writeConfig } from "./downstreamKit.js";

const MODERN = "2026-07-28";
const META = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientInfo": { name: "raw-modern", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

type Msg = Record<string, unknown>;
const resultOf = (m: Msg) => m.result as Msg;
const errorOf = (m: Msg) => m.error as { code: number; message: string; data?: Msg };

/** A modern request: the envelope rides in params._meta. */
function modern(session: RawSession, id: number | string, method: string, params: Msg = {}): Promise<Msg> {
  return session.request(id, method, { ...params, _meta: META });
}

function v2Client(home: string, mode: "auto" | "legacy"): { client: Client; transport: StdioClientTransport } {
  const transport = new StdioClientTransport({ command: install.bin, args: [], env: gatewayEnv(install, home), stderr: "pipe" });
  const client = new Client({ name: `e2e-${mode}`, version: "1.0.0" }, mode === "auto" ? { versionNegotiation: { mode: "auto" } } : {});
  return { client, transport };
}

describe("both eras on one primary, raw JSON lines", () => {
  const home = tempHome();
  let modernSession: RawSession;
  let legacySession: RawSession;
  before(() => {
    modernSession = new RawSession(install, home);
    legacySession = new RawSession(install, home);
  });
  after(async () => {
    modernSession.end();
    legacySession.end();
    await Promise.all([modernSession.exited, legacySession.exited]);
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("modern: server/discover names 2026-07-28 and the gateway; list and call answer with resultType", async () => {
    const discover = resultOf(await modern(modernSession, "d", "server/discover"));
    assert.deepEqual(discover.supportedVersions, [MODERN]);
    assert.ok((discover.capabilities as Msg).tools, "tools are offered");
    const list = resultOf(await modern(modernSession, 1, "tools/list"));
    assert.equal(list.resultType, "complete");
    assert.ok((list.tools as Array<{ name: string }>).some((t) => t.name === "echo"));
    const call = resultOf(await modern(modernSession, 2, "tools/call", { name: "echo", arguments: { message: "modern hello" } }));
    assert.equal(call.resultType, "complete");
    assert.deepEqual(call.content, [{ type: "text", text: "modern hello" }]);
    // A modern result says which server answered (2026-07-28: server identity in result _meta).
    assert.equal(((call._meta as Msg)["io.modelcontextprotocol/serverInfo"] as Msg).name, "claude-mpm-gateway");
  });

  test("modern: an unsupported version gets -32022 with the supported list, also after the era is pinned", async () => {
    const res = await modernSession.request(3, "tools/list", { _meta: { ...META, "io.modelcontextprotocol/protocolVersion": "2099-01-01" } });
    assert.equal(errorOf(res).code, -32022);
    assert.deepEqual(errorOf(res).data, { supported: [MODERN], requested: "2099-01-01" });
  });

  test("modern: a request missing an envelope key gets -32602; initialize after the era is pinned gets -32022", async () => {
    const missing = await modernSession.request(4, "tools/list", { _meta: { "io.modelcontextprotocol/protocolVersion": MODERN } });
    assert.equal(errorOf(missing).code, -32602);
    assert.match(errorOf(missing).message, /_meta envelope/);
    const late = await modernSession.request(5, "initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } });
    assert.equal(errorOf(late).code, -32022);
    assert.ok((errorOf(late).data?.supported as string[]).includes(MODERN));
  });

  test("legacy: initialize, list and call, on the same primary as the modern client", async () => {
    const init = await legacySession.initialize("2025-11-25");
    assert.equal(init.protocolVersion, "2025-11-25");
    const list = resultOf(await legacySession.request(1, "tools/list"));
    assert.ok((list.tools as Array<{ name: string }>).some((t) => t.name === "echo"));
    assert.equal(list.resultType, undefined, "2025-era results carry no resultType");
    const call = resultOf(await legacySession.request(2, "tools/call", { name: "echo", arguments: { message: "legacy hello" } }));
    assert.deepEqual(call.content, [{ type: "text", text: "legacy hello" }]);
    assert.equal(primaries(install.bin).length, 1, "one primary serves both");
  });
});

describe("both eras with the SDK's v2 Client", () => {
  const home = tempHome();
  after(async () => {
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("versionNegotiation auto negotiates the modern era: discover, list, call", async () => {
    const { client, transport } = v2Client(home, "auto");
    await client.connect(transport);
    assert.equal(client.getProtocolEra(), "modern");
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === "calculator"));
    const r = await client.callTool({ name: "calculator", arguments: { operation: "add", a: 2, b: 3 } });
    assert.match(textOf(r), /2 \+ 3 = 5/);
    await client.close();
  });

  test("a default (legacy) v2 Client initializes: list and call", async () => {
    const { client, transport } = v2Client(home, "legacy");
    await client.connect(transport);
    assert.equal(client.getProtocolEra(), "legacy");
    const r = await client.callTool({ name: "echo", arguments: { message: "old school" } });
    assert.equal(textOf(r), "old school");
    await client.close();
  });
});

describe("a modern session across kill -9 of the primary", () => {
  const home = tempHome();
  after(async () => {
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("the v2 Client's session goes on with a new primary, with no reconnect of its own", async () => {
    const { client, transport } = v2Client(home, "auto");
    try {
      await client.connect(transport);
      assert.equal(client.getProtocolEra(), "modern");
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { message: "before" } })), "before");
      const first = Number(readGatewayJson(home)?.pid);
      process.kill(first, "SIGKILL");
      await waitFor("the primary to die", () => !primaries(install.bin).includes(first), 10_000);
      // A request that reaches the bridge before it has seen the connection close is in flight when the
      // primary goes, and is answered with an error to retry (takeover.test.ts); the retry is served.
      const after = await client.callTool({ name: "echo", arguments: { message: "after" } }).catch(async (err: Error) => {
        assert.match(err.message, /primary stopped before answering/);
        return client.callTool({ name: "echo", arguments: { message: "after" } });
      });
      assert.equal(textOf(after), "after");
      assert.notEqual(Number(readGatewayJson(home)?.pid), first);
      // Still the modern era: no initialize was replayed to the new primary, and none was needed.
      assert.equal(client.getProtocolEra(), "modern");
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === "echo"));
    } finally {
      await client.close();
    }
  });

  test("an open subscriptions/listen goes on: the new primary's tools/list_changed reaches it", async (t) => {
    const session = new RawSession(install, home);
    t.after(async () => {
      session.end();
      await session.exited;
    });
    resultOf(await modern(session, "d", "server/discover"));
    session.send({ jsonrpc: "2.0", id: "listen", method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: META } });
    const ack = await session.next();
    assert.equal(ack.method, "notifications/subscriptions/acknowledged");
    const first = Number(readGatewayJson(home)?.pid);
    process.kill(first, "SIGKILL");
    // The bridge re-sends the listen at once: the new primary acknowledges it with no request from the client.
    const again = await session.next(20_000);
    assert.equal(again.method, "notifications/subscriptions/acknowledged", JSON.stringify(again));
    assert.notEqual(Number(readGatewayJson(home)?.pid), first);
    // A downstream server added to the config changes the tool list: the listen stream hears of it.
    writeConfig(home, { flaky: SERVERS.flaky(tempHome()) });
    const change = await session.next(30_000);
    assert.equal(change.method, "notifications/tools/list_changed", JSON.stringify(change));
  });
});
