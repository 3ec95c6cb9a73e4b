// A handover carries a connected client's state to a fresh client on the same running server, with no new
// handshake. restoreClient leans on SDK internals (see clientState.ts): this fails if an SDK upgrade moves them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import * as z from "zod";
import { Client } from "@modelcontextprotocol/client";
import { McpServer } from "@modelcontextprotocol/server";
import { LineTransport } from "../../src/transport/lineTransport.js";
import { captureClient, restoreClient } from "../../src/downstream/clientState.js";

test("a restored client calls the same server on: state kept, no second initialize, ids go on", async () => {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const methods: string[] = [];
  toServer.on("data", (d: Buffer) => {
    for (const line of d.toString("utf8").split("\n").filter(Boolean)) methods.push((JSON.parse(line) as { method?: string; id?: unknown }).method ?? `answer`);
  });
  const server = new McpServer({ name: "counter", version: "7.0.0" }, { capabilities: { tools: {} }, instructions: "count things" });
  let n = 0;
  server.registerTool("count", { description: "counts", inputSchema: z.object({}) }, () => ({ content: [{ type: "text", text: String(++n) }] }));
  await server.connect(new LineTransport({ input: toServer, output: toClient }));

  const first = new Client({ name: "gw", version: "1" });
  const t1 = new LineTransport({ input: toClient, output: toServer });
  await first.connect(t1, { prior: { kind: "legacy" } });
  assert.deepEqual((await first.callTool({ name: "count", arguments: {} })).content, [{ type: "text", text: "1" }]);
  const state = captureClient(first);
  assert.ok(state);
  const leftover = t1.release();

  const second = new Client({ name: "gw", version: "1" });
  await restoreClient(second, new LineTransport({ input: toClient, output: toServer, initial: leftover }), state);
  assert.equal(second.getProtocolEra(), "legacy");
  assert.deepEqual(second.getServerVersion(), { name: "counter", version: "7.0.0" });
  assert.equal(second.getInstructions(), "count things");
  assert.deepEqual(second.getServerCapabilities(), first.getServerCapabilities());
  assert.deepEqual((await second.callTool({ name: "count", arguments: {} })).content, [{ type: "text", text: "2" }]);
  assert.equal(methods.filter((m) => m === "initialize").length, 1, methods.join(","));
  assert.ok((second as unknown as { _requestMessageId: number })._requestMessageId > state.nextId - 1);
  await second.close();
  await server.close();
});
