// The bridge reads a client line's method and id by a scan of its bytes instead of JSON.parse. Whenever the
// scan answers, JSON.parse of the line (decoded as UTF-8, as the bridge did) must succeed and name the same
// method and id; when it cannot be sure it must not answer (the bridge then parses the line in full).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { scanMembers } from "../../src/transport/jsonScan.js";
import { peekRequest } from "../../src/gateway/bridgePeek.js";

/** Asserts that a scan's answer, if any, is JSON.parse's; returns whether it answered. */
function agrees(line: Buffer): boolean {
  const got = scanMembers(line);
  if (got === undefined) return false;
  let v: unknown;
  try {
    v = JSON.parse(line.toString("utf8"));
  } catch {
    assert.fail(`the scan answered ${JSON.stringify(got)} for a line JSON.parse rejects: ${JSON.stringify(line.toString("latin1"))}`);
  }
  assert.ok(v !== null && typeof v === "object" && !Array.isArray(v), `not an object: ${line.toString("latin1")}`);
  const msg = v as { method?: unknown; id?: unknown };
  assert.ok(Object.is(got.method, msg.method), `method ${String(got.method)} against ${String(msg.method)}`);
  assert.ok(Object.is(got.id, msg.id), `id ${String(got.id)} against ${String(msg.id)}`);
  return true;
}

const numberToken = fc.stringMatching(/^-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?$/);
const id = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.string({ unit: "binary" }), fc.constantFrom(0, -0, "", "a\"b", "\\", "\u2028"));
const method = fc.oneof(fc.constantFrom("tools/call", "initialize", "notifications/cancelled", "server/discover"), fc.string({ unit: "grapheme" }));
/** Keys a message may hold, the ones the scan reads among them, and ones that need escapes. */
const key = fc.oneof(fc.constantFrom("id", "method", "params", "jsonrpc", "result", "i", "ids", "Method", "method\n", 'id"'), fc.string());
const whitespace = fc.constantFrom(" ", "\t", "\r", "  \t");

/** A JSON-RPC-like object: some of id, method and params, other keys (repeated ones too), in any order. */
const message = fc
  .record(
    {
      id: fc.oneof(id, fc.constant(null), fc.jsonValue({ maxDepth: 2 })),
      method: fc.oneof(method, fc.jsonValue({ maxDepth: 1 })),
      params: fc.jsonValue({ maxDepth: 4 }),
      extra: fc.array(fc.tuple(key, fc.jsonValue({ maxDepth: 3 })), { maxLength: 4 }),
    },
    { requiredKeys: [] },
  )
  .map(({ extra, ...known }) => {
    const members: Array<[string, unknown]> = [...Object.entries(known), ...(extra ?? [])];
    return members;
  });

/** Serializes members in order (repeats kept, as JSON.stringify of an object cannot), with optional blanks. */
function serialize(members: Array<[string, unknown]>, ws: string): string {
  return `${ws}{${ws}${members.map(([k, v]) => `${JSON.stringify(k)}${ws}:${ws}${pretty(v, ws)}`).join(`${ws},${ws}`)}${ws}}${ws}`;
}
/** A value with blanks between its tokens: JSON.stringify's indentation with its newlines replaced. */
const pretty = (v: unknown, ws: string) => (ws ? JSON.stringify(v, null, 1).replace(/\n/g, ws) : JSON.stringify(v));

/**
 * Whether the scan must answer for these members: no key with an escape, every `method` a string without
 * one, every `id` a string or number (anything else it rightly leaves to JSON.parse).
 */
function answerable(members: Array<[string, unknown]>): boolean {
  return members.every(([k, v]) => {
    if (JSON.stringify(k).includes("\\")) return false;
    if (k === "method") return typeof v === "string" && !JSON.stringify(v).includes("\\");
    if (k === "id") return typeof v === "string" || typeof v === "number";
    return true;
  });
}

test("on JSON objects of any shape the scan names JSON.parse's method and id, and answers whenever it can", () => {
  let answered = 0;
  fc.assert(
    fc.property(message, fc.oneof(fc.constant(""), whitespace), (members, ws) => {
      const line = Buffer.from(serialize(members, ws));
      const got = agrees(line);
      if (got) answered++;
      else assert.ok(!answerable(members), `left to JSON.parse: ${JSON.stringify(line.toString())}`);
    }),
    { numRuns: 5000 },
  );
  assert.ok(answered > 500, `the scan answered only ${answered} of 5000`);
});

test("a plain request or response is always answered by the scan, never left to JSON.parse", () => {
  const plainId = fc.oneof(fc.integer(), fc.stringMatching(/^[a-zA-Z0-9:_-]{0,20}$/), numberToken.map(Number).filter(Number.isFinite));
  fc.assert(
    fc.property(plainId, fc.stringMatching(/^[a-z/_]{1,30}$/), fc.jsonValue({ maxDepth: 5 }), fc.boolean(), fc.boolean(), (rid, m, params, isResponse, sdkOrder) => {
      const msg = isResponse ? { jsonrpc: "2.0", id: rid, result: params } : sdkOrder ? { method: m, params, jsonrpc: "2.0", id: rid } : { jsonrpc: "2.0", id: rid, method: m, params };
      assert.ok(agrees(Buffer.from(JSON.stringify(msg))));
    }),
    { numRuns: 3000 },
  );
});

test("number ids of every JSON form read as JSON.parse reads them", () => {
  fc.assert(
    fc.property(numberToken, fc.boolean(), (tok, idFirst) => {
      const line = idFirst ? `{"id":${tok},"method":"m"}` : `{"method":"m","id":${tok}}`;
      assert.ok(agrees(Buffer.from(line)));
    }),
    { numRuns: 3000 },
  );
  // Anything else made of number bytes, as the id or nested in params, is answered only if JSON.parse takes it.
  const numberish = fc.string({ unit: fc.constantFrom(..."0123456789-+.eE"), minLength: 1, maxLength: 8 });
  fc.assert(
    fc.property(numberish, fc.boolean(), (tok, nested) => {
      agrees(Buffer.from(nested ? `{"params":[${tok}],"id":1}` : `{"method":"m","id":${tok}}`));
    }),
    { numRuns: 5000 },
  );
  for (const tok of ["1.", "-", "1e", ".5", "+1", "01", "1e+", "--1"]) assert.equal(scanMembers(Buffer.from(`{"params":{"a":[${tok}]},"id":1}`)), undefined, tok);
});

test("strings of any bytes, invalid UTF-8 too, decode as the whole line's decode does", () => {
  // Bytes a JSON string may hold raw: anything but a quote, a backslash and control characters.
  const raw = fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a.filter((c) => c >= 0x20 && c !== 0x22 && c !== 0x5c)));
  fc.assert(
    fc.property(raw, raw, (a, b) => {
      const line = Buffer.concat([Buffer.from('{"id":"'), a, Buffer.from('","method":"'), b, Buffer.from('"}')]);
      assert.ok(agrees(line));
    }),
    { numRuns: 3000 },
  );
});

test("a damaged line is answered only if JSON.parse accepts it, and then alike", () => {
  const edit = fc.tuple(fc.nat(), fc.constantFrom("delete", "insert", "replace"), fc.constantFrom(...'{}[]":,\\ \t0-.eE+tfnu\x00\x1f\x7f\xc3\xff'.split("")));
  fc.assert(
    fc.property(message, fc.array(edit, { minLength: 1, maxLength: 3 }), (members, edits) => {
      let bytes = Buffer.from(serialize(members, ""));
      for (const [at, op, ch] of edits) {
        const i = bytes.length ? at % bytes.length : 0;
        const c = Buffer.from([ch.charCodeAt(0)]);
        if (op === "delete") bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
        else if (op === "insert") bytes = Buffer.concat([bytes.subarray(0, i), c, bytes.subarray(i)]);
        else bytes = Buffer.concat([bytes.subarray(0, i), c, bytes.subarray(i + 1)]);
      }
      agrees(bytes);
    }),
    { numRuns: 10000 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (a) => void agrees(Buffer.from(a))), { numRuns: 5000 });
});

test("what the scan leaves to JSON.parse: escaped keys, escaped methods, other ids, non-objects, deep nesting", () => {
  const left = [
    '{"\\u006dethod":"tools/call","id":1}',
    '{"method":"tools\\/call","id":1}',
    '{"method":"m","id":null}',
    '{"method":"m","id":{"a":1}}',
    '{"method":7,"id":1}',
    '[{"method":"m","id":1}]',
    '"x"',
    `{"method":"m","id":1,"params":${"[".repeat(300)}${"]".repeat(300)}}`,
    '\ufeff{"method":"m","id":1}',
    '{"method":"m","id":1}x',
    '{"method":"m","id":01}',
    '{"method":"m","id":1,}',
  ];
  for (const line of left) assert.equal(scanMembers(Buffer.from(line)), undefined, line);
  // peekRequest then parses in full, so the bridge sees what JSON.parse sees.
  assert.deepEqual(peekRequest(Buffer.from(left[0]!), () => false), { method: "tools/call", id: 1 });
  assert.equal(peekRequest(Buffer.from(left[5]!), () => false)?.method, undefined);
  assert.equal(peekRequest(Buffer.from("not json"), () => false), undefined);
});

test("the last of repeated keys counts, as in JSON.parse; an escaped string id is decoded", () => {
  assert.deepEqual(scanMembers(Buffer.from('{"id":1,"method":"a","id":2,"method":"b"}')), { method: "b", id: 2 });
  assert.equal(scanMembers(Buffer.from('{"id":"a\\"b\\u00e9"}'))?.id, 'a"b\u00e9');
  assert.ok(Object.is(scanMembers(Buffer.from('{"id":-0}'))?.id, -0));
});

test("peekRequest parses in full exactly when the method's params are asked for", () => {
  const line = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 4, method: "notifications/cancelled", params: { requestId: 3 } }));
  assert.deepEqual(peekRequest(line, (m) => m === "notifications/cancelled")?.params, { requestId: 3 });
  assert.equal(peekRequest(line, () => false)?.params, undefined);
  // A response has no method: its params are never asked for.
  const asked: string[] = [];
  peekRequest(Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}'), (m) => (asked.push(m), true));
  assert.deepEqual(asked, []);
});

test("lines in sequence: each line's method is its own, whatever methods (short, long, repeated) came before", () => {
  const short = fc.constantFrom("tools/call", "notifications/cancelled", "ping");
  const long = fc.string({ minLength: 65, maxLength: 90, unit: fc.constantFrom("a", "b", "/") });
  fc.assert(
    fc.property(fc.array(fc.oneof(short, long), { minLength: 2, maxLength: 8 }), (methods) => {
      for (const m of methods) assert.equal(scanMembers(Buffer.from(JSON.stringify({ jsonrpc: "2.0", method: m })))?.method, m);
    }),
    { numRuns: 500 },
  );
  // The sequence a review found: a short method, a long one, the short one again.
  for (const m of ["notifications/cancelled", "x/" + "v".repeat(70), "notifications/cancelled"]) {
    assert.equal(scanMembers(Buffer.from(JSON.stringify({ jsonrpc: "2.0", method: m, params: {} })))?.method, m);
  }
});
