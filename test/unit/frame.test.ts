// The line transport accepts common frames without the SDK's zod schema: whatever it accepts, the schema
// must accept too and make the same message of it (equal as JSON); whatever the schema refuses, it refuses.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { JSONRPCMessageSchema } from "@modelcontextprotocol/core";
import { commonFrame } from "../../src/transport/frame.js";

const RELATED = "io.modelcontextprotocol/related-task";
const SERVER_INFO = "io.modelcontextprotocol/serverInfo";

const json = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constantFrom("_meta", "__proto__", "progressToken")), tie("v"), { maxKeys: 3 }),
  ),
})).v;
const id = fc.oneof(fc.integer(), fc.string(), fc.constantFrom(2 ** 53, -(2 ** 53), 1.5, null, true, {}, []), fc.maxSafeInteger());
const meta = fc.oneof(
  json,
  fc.record(
    {
      progressToken: fc.oneof(id, json),
      [RELATED]: fc.oneof(fc.record({ taskId: fc.string() }), json),
      [SERVER_INFO]: fc.oneof(fc.record({ name: fc.string(), version: fc.string() }), json),
      other: json,
    },
    { requiredKeys: [] },
  ),
);
const params = fc.oneof(json, fc.record({ _meta: meta, name: fc.string(), arguments: json, __proto__: json }, { requiredKeys: [] }));
const errorObj = fc.oneof(json, fc.record({ code: fc.oneof(fc.integer(), json), message: fc.oneof(fc.string(), json), data: json, extra: json }, { requiredKeys: ["code", "message"] }));
const message = fc.record(
  {
    jsonrpc: fc.constantFrom("2.0", "2.0", "2.0", "1.0", 2),
    id,
    method: fc.oneof(fc.constantFrom("tools/call", "notifications/cancelled"), json),
    params,
    result: fc.oneof(json, fc.record({ content: json, _meta: meta, isError: json }, { requiredKeys: [] })),
    error: errorObj,
    extra: json,
  },
  { requiredKeys: [] },
);
// Mostly well-formed frames of each kind, each member sometimes replaced by anything or left out.
const or = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: json });
const shaped = fc.oneof(
  fc.record({ jsonrpc: fc.constant("2.0"), id: or(fc.oneof(fc.integer(), fc.string())), method: or(fc.string()), params: or(params) }, { requiredKeys: ["jsonrpc", "id", "method"] }),
  fc.record({ jsonrpc: fc.constant("2.0"), method: or(fc.string()), params: or(params), extra: json }, { requiredKeys: ["jsonrpc", "method"] }),
  fc.record({ result: or(fc.record({ content: json, _meta: meta, isError: json }, { requiredKeys: [] })), jsonrpc: fc.constant("2.0"), id: or(id) }, { requiredKeys: ["jsonrpc", "result"] }),
  fc.record({ jsonrpc: fc.constant("2.0"), id: or(id), error: errorObj }, { requiredKeys: ["jsonrpc", "error"] }),
);
// Frames as they come off the wire: JSON text parsed (so "__proto__" is an own key, as JSON.parse makes it).
const wire = fc.oneof(shaped, shaped, message, json).map((v) => JSON.parse(JSON.stringify(v)) as unknown);

test("a frame the fast check accepts is one the schema accepts, and the same message", () => {
  let accepted = 0;
  fc.assert(
    fc.property(wire, (v) => {
      const fast = commonFrame(v);
      const slow = JSONRPCMessageSchema.safeParse(v);
      if (fast === undefined) return;
      accepted++;
      assert.ok(slow.success, `accepted what the schema refuses: ${JSON.stringify(v)}`);
      assert.deepEqual(JSON.parse(JSON.stringify(fast)), JSON.parse(JSON.stringify(slow.data)));
    }),
    { numRuns: 20_000 },
  );
  // The property means something only if the generator reaches the fast path often.
  assert.ok(accepted > 500, `only ${accepted} frames took the fast path`);
});

test("the usual frames of a call take the fast path", () => {
  const frames = [
    { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "everything__echo", arguments: { message: "ping" } } },
    { jsonrpc: "2.0", id: "a", method: "tools/call", params: { name: "x", arguments: {}, _meta: { progressToken: 7 } } },
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, reason: "x" } },
    { result: { content: [{ type: "text", text: "Echo: ping" }] }, jsonrpc: "2.0", id: 3 },
    { jsonrpc: "2.0", id: 4, error: { code: -32602, message: "bad", data: { x: 1 } } },
    { jsonrpc: "2.0", error: { code: -32700, message: "parse" } },
  ];
  for (const f of frames) assert.equal(commonFrame(f), f, JSON.stringify(f));
});

test("frames the schema would change or refuse are left to it", () => {
  const frames = [
    { jsonrpc: "2.0", id: 1, method: "m", extra: 1 },
    { jsonrpc: "2.0", id: null, method: "m" },
    { jsonrpc: "2.0", id: 2 ** 53, method: "m" },
    { jsonrpc: "2.0", id: 1.5, result: {} },
    { jsonrpc: "2.0", method: "m", params: null },
    { jsonrpc: "2.0", method: "m", params: [] },
    { jsonrpc: "2.0", id: 1, method: "m", params: { _meta: { progressToken: 1.5 } } },
    { jsonrpc: "2.0", id: 1, method: "m", params: { _meta: { [RELATED]: { taskId: "t", x: 1 } } } },
    { jsonrpc: "2.0", id: 1, result: { _meta: { [SERVER_INFO]: { name: "s", version: "1", x: 1 } } } },
    { jsonrpc: "2.0", result: {} },
    { jsonrpc: "2.0", id: 1, error: { code: 1, message: "m", x: 1 } },
    { jsonrpc: "2.0", id: 1, error: { code: 1.5, message: "m" } },
    { jsonrpc: "2.0", id: 1, result: {}, error: { code: 1, message: "m" } },
    { jsonrpc: "1.0", id: 1, method: "m" },
    JSON.parse('{"jsonrpc":"2.0","id":1,"method":"m","params":{"__proto__":{"x":1}}}') as unknown,
  ];
  for (const f of frames) assert.equal(commonFrame(f), undefined, JSON.stringify(f));
});
