// The downstream call lane reaches into SDK Client internals (src/downstream/clientPrivates.ts): its id counter,
// its progress-handler table and its request funnel. These tests run them against a real Client and server, so
// an SDK upgrade that renames or reshapes any of them fails here, not in the field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError, type JSONRPCMessage } from "@modelcontextprotocol/client";
import { connected, settle, turn } from "./lineServerKit.js";
import { expectAnswer, hasPrivates, setProgressHandler, takeRequestId } from "../../src/downstream/clientPrivates.js";
import { FORWARDED_RESULT } from "../../src/downstream/callLane.js";

test("the SDK Client still has the members the lane uses", async () => {
  const { client } = await connected();
  assert.ok(hasPrivates(client));
  await client.close();
});

test("an id taken from the counter is never one the client uses for its own requests", async () => {
  const { client, written, answer } = await connected();
  const taken = takeRequestId(client);
  const own = client.request({ method: "ping" });
  await turn();
  const sent = written.at(-1)!;
  assert.equal(sent.method, "ping");
  assert.notEqual(sent.id, taken);
  assert.equal(sent.id, taken + 1);
  answer({ id: sent.id, result: {} });
  assert.deepEqual(await own, {});
  await client.close();
});

test("a registered progress handler hears the server's progress for its id, through the client; dropped, it hears nothing", async () => {
  const { client, answer, errors } = await connected();
  const id = takeRequestId(client);
  const heard: unknown[] = [];
  setProgressHandler(client, id, (p) => heard.push(p));
  answer({ method: "notifications/progress", params: { progressToken: id, progress: 1, total: 2, message: "half" } });
  await settle();
  assert.deepEqual(heard, [{ progress: 1, total: 2, message: "half" }]);
  setProgressHandler(client, id, undefined);
  answer({ method: "notifications/progress", params: { progressToken: id, progress: 2, total: 2 } });
  await settle();
  assert.equal(heard.length, 1);
  assert.match(errors.join("\n"), /unknown token/);
  await client.close();
});

test("expectAnswer: the client settles an answer to an id it did not write, as its own request's; nothing is written", async () => {
  const { client, transport, written, answer, errors } = await connected();
  const request = { method: "tools/call" as const, params: { name: "t", arguments: {} } };
  const opts = { timeout: 60_000 };

  // A result the schema reshapes: the client's validation runs (content defaults to []).
  const a = takeRequestId(client);
  const before = written.length;
  const pa = expectAnswer(client, a, () => client.request(request, FORWARDED_RESULT, opts));
  assert.equal(written.length, before);
  assert.equal(client.transport, transport);
  answer({ id: a, result: { isError: true } });
  assert.equal(JSON.stringify(await pa), JSON.stringify({ content: [], isError: true }));

  // An error answer: the client's own ProtocolError.
  const b = takeRequestId(client);
  const pb = expectAnswer(client, b, () => client.request(request, FORWARDED_RESULT, opts));
  answer({ id: b, error: { code: -32602, message: "Unknown tool: t", data: { x: 1 } } });
  await assert.rejects(pb, (e: unknown) => e instanceof ProtocolError && e.code === -32602 && e.message.includes("Unknown tool: t"));

  // An invalid result: the client's own validation error.
  const c = takeRequestId(client);
  const pc = expectAnswer(client, c, () => client.request(request, FORWARDED_RESULT, opts));
  answer({ id: c, result: { content: "nope" } });
  await assert.rejects(pc, /Invalid result for tools\/call/);

  // The counter went on from where it was: the next own request uses the id after the last taken.
  const own = client.request({ method: "ping" });
  await turn();
  assert.equal((written.at(-1) as JSONRPCMessage & { id: number }).id, c + 1);
  answer({ id: c + 1, result: {} });
  await own;
  assert.deepEqual(errors, []);
  await client.close();
});
