// Both protocol eras on one HTTP endpoint from one factory, with the SDK v2 client: the modern era holds
// nothing between requests; the legacy era's sessions (Mcp-Session-Id, GET stream, DELETE, idle reaping).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { McpServer, type McpServerFactory } from "@modelcontextprotocol/server";
import * as z from "zod";
import { createMcpHttp, type McpHttp } from "../../src/http/mcpHttp.js";
import { listenHttp, type HttpEndpoint } from "../../src/http/server.js";
import { principalOf } from "../../src/http/tokens.js";

const TOKEN = "unit-test-token-0123456789";
const OTHER = "other-team-token-0123456789";

function countingFactory(): { factory: McpServerFactory; built: string[] } {
  const built: string[] = [];
  const factory: McpServerFactory = ({ era }) => {
    built.push(era);
    const server = new McpServer({ name: "t", version: "1" }, { capabilities: { tools: { listChanged: true } } });
    server.registerTool("echo", { description: "echo", inputSchema: z.object({ text: z.string() }) }, ({ text }) => ({
      content: [{ type: "text", text: `${text} (${era})` }],
    }));
    return server;
  };
  return { factory, built };
}

async function serve(factory: McpServerFactory, idleMs?: number): Promise<{ mcp: McpHttp; ep: HttpEndpoint; close(): Promise<void> }> {
  const mcp = createMcpHttp(factory, { maxSessions: 2, idleMs: idleMs ?? 60_000 });
  const ep = await listenHttp({ host: "127.0.0.1", port: 0, tokens: [TOKEN, OTHER], handle: mcp.handle });
  return { mcp, ep, close: async () => (await ep.close(1000), await mcp.close()) };
}

function client(url: string, mode: "auto" | "legacy", token = TOKEN): { c: Client; t: StreamableHTTPClientTransport } {
  const t = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  return { c: new Client({ name: "unit", version: "1" }, { versionNegotiation: { mode } }), t };
}

describe("createMcpHttp", () => {
  test("a modern client: list and call, a fresh instance per request, no session kept", async () => {
    const { factory, built } = countingFactory();
    const s = await serve(factory);
    const { c, t } = client(s.ep.url, "auto");
    try {
      await c.connect(t);
      assert.equal(c.getProtocolEra(), "modern");
      assert.deepEqual((await c.listTools()).tools.map((x) => x.name), ["echo"]);
      assert.deepEqual((await c.callTool({ name: "echo", arguments: { text: "hi" } })).content, [{ type: "text", text: "hi (modern)" }]);
      assert.equal(t.sessionId, undefined);
      assert.equal(s.mcp.legacySessions(), 0);
      assert.ok(built.filter((e) => e === "modern").length >= 2, `built ${JSON.stringify(built)}`);
    } finally {
      await c.close();
      await s.close();
    }
  });

  test("a legacy client: a session with an id, served by one instance, ended by DELETE", async () => {
    const { factory, built } = countingFactory();
    const s = await serve(factory);
    const { c, t } = client(s.ep.url, "legacy");
    try {
      await c.connect(t);
      assert.equal(c.getProtocolEra(), "legacy");
      assert.match(t.sessionId ?? "", /^[0-9a-f-]{36}$/);
      assert.deepEqual((await c.callTool({ name: "echo", arguments: { text: "hi" } })).content, [{ type: "text", text: "hi (legacy)" }]);
      await c.listTools();
      assert.deepEqual(built, ["legacy"], "one instance serves the whole session");
      assert.equal(s.mcp.legacySessions(), 1);
      await t.terminateSession();
      assert.equal(s.mcp.legacySessions(), 0);
    } finally {
      await c.close();
      await s.close();
    }
  });

  test("an unknown session id is 404 (the client starts anew); the session cap answers 503", async () => {
    const { factory } = countingFactory();
    const s = await serve(factory);
    const clients = [client(s.ep.url, "legacy"), client(s.ep.url, "legacy")];
    try {
      for (const { c, t } of clients) await c.connect(t);
      const init = {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } },
      };
      const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
      const third = await fetch(s.ep.url, { method: "POST", headers, body: JSON.stringify(init) });
      assert.equal(third.status, 503);
      const lost = await fetch(s.ep.url, {
        method: "POST",
        headers: { ...headers, "mcp-session-id": "no-such-session", "mcp-protocol-version": "2025-11-25" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
      });
      assert.equal(lost.status, 404);
    } finally {
      for (const { c } of clients) await c.close();
      await s.close();
    }
  });

  test("the factory hears the token's principal; a session is usable with the token that opened it only", async () => {
    const principals: Array<string | undefined> = [];
    const { factory } = countingFactory();
    const s = await serve((ctx) => (principals.push(ctx.authInfo?.clientId), factory(ctx)));
    const { c, t } = client(s.ep.url, "legacy");
    try {
      await c.connect(t);
      await c.callTool({ name: "echo", arguments: { text: "x" } });
      assert.deepEqual([...new Set(principals)], [principalOf(TOKEN)]);
      assert.match(principalOf(TOKEN), /^bearer:[0-9a-f]{16}$/);
      const stolen = await fetch(s.ep.url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${OTHER}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": t.sessionId!,
          "mcp-protocol-version": "2025-11-25",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
      });
      assert.equal(stolen.status, 404, "another token's session is unknown to this one");
      const { c: c2, t: t2 } = client(s.ep.url, "auto", OTHER);
      await c2.connect(t2);
      await c2.listTools();
      assert.ok(principals.includes(principalOf(OTHER)));
      await c2.close();
    } finally {
      await c.close();
      await s.close();
    }
  });

  test("a legacy session whose client vanished (no stream, no DELETE) is closed after the idle time", async () => {
    const { factory } = countingFactory();
    // The client opens its GET stream on its own after initialize: the idle time leaves a loaded machine 2 s
    // for that (300 ms did not always), and the quiet spell is longer than the idle time.
    const s = await serve(factory, 2000);
    const { c, t } = client(s.ep.url, "legacy");
    try {
      await c.connect(t);
      assert.equal(s.mcp.legacySessions(), 1);
      // Its GET stream open, the client is alive, however long it is quiet.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(s.mcp.legacySessions(), 1);
      await c.close(); // gone without a DELETE
      const deadline = Date.now() + 10_000;
      while (s.mcp.legacySessions() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(s.mcp.legacySessions(), 0);
    } finally {
      await c.close();
      await s.close();
    }
  });
});
