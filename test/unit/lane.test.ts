// The fast lane of a bridge's session: which calls it takes, what it writes for them, and what it leaves to
// the SDK's Server (re-delivered with the outcome pre-answered), checked without processes.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CallToolRequestParamsSchema, CallToolResultSchema } from "@modelcontextprotocol/core";
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/server";
import { FastLane, commonToolResult, plainCall, type LaneSession } from "../../src/gateway/lane.js";
import type { CallOrigin } from "../../src/tools/types.js";

class FakeWire implements Transport {
  onmessage?: Transport["onmessage"];
  onclose?: Transport["onclose"];
  sent: JSONRPCMessage[] = [];
  async start(): Promise<void> {}
  async send(m: JSONRPCMessage): Promise<void> {
    this.sent.push(m);
  }
  async close(): Promise<void> {
    this.onclose?.();
  }
}

function lane(call: LaneSession["call"], takes = (_: string) => true) {
  const wire = new FakeWire();
  const l = new FastLane(wire);
  const delivered: JSONRPCMessage[] = [];
  l.onmessage = (m) => void delivered.push(m);
  const origins: Array<string | number | undefined> = [];
  const sent: Array<(method: string) => void> = [];
  l.attach({ takes, origin: (t, s) => (origins.push(t), sent.push(s), { sessionId: 1 } as CallOrigin), call });
  void l.start();
  return { wire, l, delivered, origins, sent };
}
const tick = () => new Promise((r) => setImmediate(r));
const req = (id: number | string, params: unknown) => ({ jsonrpc: "2.0", id, method: "tools/call", params }) as JSONRPCMessage;

test("a plain call is answered by the lane as the Server would write it", async () => {
  const result = { content: [{ type: "text", text: "Echo: x" }] };
  const { wire, delivered, origins } = lane(async (name, args) => (assert.equal(name, "s__echo"), assert.deepEqual(args, { message: "x" }), result));
  wire.onmessage!(req(7, { name: "s__echo", arguments: { message: "x" }, _meta: { progressToken: "p" } }));
  await tick();
  assert.deepEqual(delivered, []);
  assert.equal(JSON.stringify(wire.sent), JSON.stringify([{ result, jsonrpc: "2.0", id: 7 }]));
  assert.deepEqual(origins, ["p"]);
});

test("a call that sent progress is answered by the Server (its pace: an SDK client drops progress read with its answer)", async () => {
  const result = { content: [{ type: "text", text: "done" }] };
  let finish!: (r: unknown) => void;
  const { wire, l, delivered, sent } = lane(() => new Promise((r) => (finish = r)));
  const a = req(1, { name: "t", _meta: { progressToken: 9 } });
  wire.onmessage!(a);
  sent[0]!("notifications/message");
  sent[0]!("notifications/progress");
  finish(result);
  await tick();
  assert.deepEqual(wire.sent, []);
  assert.deepEqual(delivered, [a]);
  assert.deepEqual(l.preAnswered(1), { ok: true, value: result });
});

test("other outcomes go to the Server as the original request, pre-answered once", async () => {
  const image = { content: [{ type: "image", data: "AA==", mimeType: "image/png" }] };
  const failure = Object.assign(new Error("bad"), { code: -32602 });
  let n = 0;
  const { wire, l, delivered } = lane(async () => (n++ === 0 ? image : Promise.reject(failure)));
  const a = req(1, { name: "t" });
  const b = req(2, { name: "t" });
  wire.onmessage!(a);
  wire.onmessage!(b);
  await tick();
  assert.deepEqual(wire.sent, []);
  assert.deepEqual(delivered, [a, b]);
  assert.deepEqual(l.preAnswered(1), { ok: true, value: image });
  assert.deepEqual(l.preAnswered(2), { ok: false, error: failure });
  assert.equal(l.preAnswered(1), undefined);
});

test("requests the lane does not take reach the Server untouched", async () => {
  let calls = 0;
  const { wire, delivered } = lane(async () => (calls++, { content: [] }), (name) => name !== "modern__tool");
  const passed = [
    req(1, { name: "modern__tool" }),
    req(2, { name: "t", requestState: "x" }),
    req(3, { name: "t", arguments: [] }),
    req(4, { name: "t", _meta: { progressToken: 1, "io.modelcontextprotocol/protocolVersion": "2026-07-28" } }),
    { jsonrpc: "2.0", id: 5, method: "tools/list" } as JSONRPCMessage,
    { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 99 } } as JSONRPCMessage,
  ];
  for (const m of passed) wire.onmessage!(m);
  await tick();
  assert.equal(calls, 0);
  assert.deepEqual(delivered, passed);
});

test("a cancelled call is aborted with the client's reason and never answered", async () => {
  let signal!: AbortSignal;
  let finish!: (r: unknown) => void;
  const { wire, delivered } = lane((_n, _a, s) => ((signal = s), new Promise((r) => (finish = r))));
  wire.onmessage!(req(1, { name: "t" }));
  wire.onmessage!({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, reason: "no" } } as JSONRPCMessage);
  assert.equal(signal.reason, "no");
  finish({ content: [] });
  await tick();
  assert.deepEqual(wire.sent, []);
  assert.deepEqual(delivered, []);
});

test("a closed session aborts the calls in flight as the Server does", async () => {
  let signal!: AbortSignal;
  const { wire } = lane((_n, _a, s) => ((signal = s), new Promise(() => undefined)));
  wire.onmessage!(req(1, { name: "t" }));
  await wire.close();
  assert.match(String(signal.reason), /Connection closed/);
});

test("plainCall accepts only params the request schema passes unchanged", () => {
  const params = fc.record(
    {
      name: fc.oneof(fc.string(), fc.integer()),
      arguments: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()),
      _meta: fc.oneof(fc.record({ progressToken: fc.oneof(fc.string(), fc.integer(), fc.double()), x: fc.jsonValue() }, { requiredKeys: [] }), fc.jsonValue()),
      requestState: fc.string(),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(params, (p) => {
      const v = JSON.parse(JSON.stringify(p)) as unknown;
      const got = plainCall(v);
      if (!got) return;
      const parsed = CallToolRequestParamsSchema.safeParse(v);
      assert.ok(parsed.success, JSON.stringify(v));
      assert.deepEqual(JSON.parse(JSON.stringify(parsed.data)), v);
      assert.equal(got.progressToken, (v as { _meta?: { progressToken?: unknown } })._meta?.progressToken);
    }),
    { numRuns: 5000 },
  );
});

/** The object's members in an order of fast-check's choosing: a result's order is the server's, not ours. */
const anyOrder = <T extends object>(arb: fc.Arbitrary<T>) =>
  arb.chain((o) => {
    const entries = Object.entries(o);
    return fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }).map((e) => Object.fromEntries(e) as T);
  });

test("commonToolResult accepts only results the result schema passes unchanged, byte for byte", () => {
  const block = fc.oneof(
    { weight: 4, arbitrary: anyOrder(fc.record({ type: fc.constant("text"), text: fc.string() })) },
    { weight: 1, arbitrary: anyOrder(fc.record({ type: fc.constantFrom("text", "image"), text: fc.oneof(fc.string(), fc.integer()), extra: fc.jsonValue() }, { requiredKeys: ["type"] })) },
  );
  const result = anyOrder(fc.record({ content: fc.oneof(fc.array(block, { maxLength: 3 }), fc.jsonValue()), isError: fc.oneof(fc.boolean(), fc.jsonValue()), structuredContent: fc.jsonValue() }, { requiredKeys: [] }));
  let common = 0;
  fc.assert(
    fc.property(result, (r) => {
      const v = JSON.parse(JSON.stringify(r)) as unknown;
      if (!commonToolResult(v)) return;
      common++;
      const parsed = CallToolResultSchema.safeParse(v);
      assert.ok(parsed.success, JSON.stringify(v));
      // What the Server writes is its copy encoded: the same bytes as the result the lane writes.
      assert.equal(JSON.stringify(parsed.data), JSON.stringify(v));
    }),
    { numRuns: 10000 },
  );
  // Several hundred of the generated results are common ones: the property is never vacuous.
  assert.ok(common > 30, `only ${common} common results generated`);
});
