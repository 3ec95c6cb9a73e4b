// The bridge reads a response's id from the primary's line by a scan, not a parse: whatever the result holds
// (ids, markers, escapes, nested objects), the scan must name the id JSON.parse would, or fall back to it.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { peekAnswer } from "../../src/gateway/bridgePeek.js";

const id = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.constantFrom('a"b', "x}", 'q\\"', ',"jsonrpc":"2.0","id":1}'));
const marker = fc.constantFrom(',"jsonrpc":"2.0","id":', '{"jsonrpc":"2.0","id":', '"id":7}', "}", '\\"');
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: "small" }, fc.string(), marker, fc.integer(), fc.boolean(), fc.array(tie("v"), { maxLength: 3 }), fc.dictionary(fc.oneof(fc.string(), marker), tie("v"), { maxKeys: 3 })),
})).v;

test("the scanned id of a response is JSON.parse's, in both of the primary's shapes", () => {
  fc.assert(
    fc.property(id, value, fc.boolean(), fc.boolean(), (rid, v, resultFirst, isError) => {
      const body = isError ? { error: { code: -1, message: String(JSON.stringify(v)), data: v } } : { result: { v } };
      const msg = resultFirst ? { ...body, jsonrpc: "2.0", id: rid } : { jsonrpc: "2.0", id: rid, ...body };
      const line = Buffer.from(JSON.stringify(msg));
      const got = peekAnswer(line);
      assert.deepEqual(got?.id, (JSON.parse(line.toString()) as { id: unknown }).id);
      assert.equal(got?.method, undefined);
    }),
    { numRuns: 2000 },
  );
});

test("a request or notification from the primary is told apart (its method is seen)", () => {
  const lines = [
    { method: "sampling/createMessage", params: { x: { result: 1 } }, jsonrpc: "2.0", id: 5 },
    { jsonrpc: "2.0", id: 6, method: "elicitation/create", params: {} },
    { jsonrpc: "2.0", method: "notifications/progress", params: { result: "x" } },
  ];
  for (const msg of lines) assert.equal(peekAnswer(Buffer.from(JSON.stringify(msg)))?.method, msg.method);
});

test("a result whose last member holds the marker is not mistaken for the id", () => {
  const line = Buffer.from('{"result":{"a":{"jsonrpc":"2.0","id":99}},"jsonrpc":"2.0","id":3}');
  assert.equal(peekAnswer(line)?.id, 3);
  const nested = Buffer.from('{"result":{"t":{"z":1,"jsonrpc":"2.0","id":99}}}');
  assert.equal(peekAnswer(nested)?.id, undefined);
  assert.equal(peekAnswer(Buffer.from("not json")), undefined);
});
