// Bad frames on stdin, bridge and --standalone alike: the gateway answers as JSON-RPC says (or skips where
// no id can be answered), keeps serving, writes nothing but protocol to stdout and never crashes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { expectNoProcessLeft, installBinary, stopGateway, tempHome, type Install } from "./harness.js";
import { RawSession } from "./rawSession.js";

const MAX_FRAME = 16 * 1024 * 1024;

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

/** Frames a broken or hostile client might send; none contains a newline (the frame delimiter). */
const badFrame: fc.Arbitrary<Buffer> = fc.oneof(
  // text that is not JSON
  fc.string({ maxLength: 200 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }).map((s) => Buffer.from(s.replace(/[\r\n]/g, " "))),
  // JSON that is not JSON-RPC
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v))),
  // batches, which MCP does not allow
  fc.array(fc.record({ jsonrpc: fc.constant("2.0"), id: fc.nat(), method: fc.constantFrom("ping", "tools/list") }), { minLength: 0, maxLength: 4 }).map((a) => Buffer.from(JSON.stringify(a))),
  // requests with odd methods, ids and params
  fc.record({
    jsonrpc: fc.constantFrom("2.0", "1.0", 2),
    id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), fc.boolean()),
    method: fc.oneof(fc.constantFrom("tools/call", "tools/list", "initialize", "resources/read", "ping"), fc.string({ maxLength: 20 })),
    params: fc.jsonValue({ maxDepth: 2 }),
  }, { requiredKeys: ["method"] }).map((o) => Buffer.from(JSON.stringify(o))),
  // invalid UTF-8 and binary garbage
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a.map((b) => (b === 0x0a ? 0xff : b)))),
);

for (const mode of ["bridge", "standalone"] as const) {
  describe(`bad frames (${mode})`, () => {
    const args = mode === "standalone" ? ["--standalone"] : [];
    const home = tempHome();
    after(async () => {
      stopGateway(install, home);
      await expectNoProcessLeft(install.bin);
    });

    test("generated bad frames never stop the session; stdout stays JSON-RPC", async () => {
      const s = new RawSession(install, home, args);
      await s.initialize();
      let probe = 0;
      await fc.assert(
        fc.asyncProperty(badFrame, async (frame) => {
          s.write(Buffer.concat([frame, Buffer.from("\n")]));
          const id = `probe-${++probe}`;
          s.send({ jsonrpc: "2.0", id, method: "ping" });
          for (;;) {
            const msg = await s.next(5000); // throws if a stdout line is not JSON
            assert.equal(msg.jsonrpc, "2.0", `not JSON-RPC: ${JSON.stringify(msg)}`);
            if (msg.id === id) {
              assert.deepEqual(msg.result, {});
              return;
            }
            // Anything else must be an answer to the frame: an error or a result with an id (null when unknown).
            assert.ok("id" in msg && ("error" in msg || "result" in msg), `unexpected output: ${JSON.stringify(msg)}`);
          }
        }),
        { numRuns: 150 },
      );
      s.end();
      assert.deepEqual(await s.exited, { code: 0, signal: null });
    });

    test("each documented bad frame gets its JSON-RPC answer", async () => {
      const s = new RawSession(install, home, args);
      // A request before initialize is still answered (the SDK serves it).
      const early = await s.request("early", "tools/list");
      assert.ok(Array.isArray((early.result as { tools: unknown[] }).tools));
      await s.initialize();
      const cases: Array<[string | Buffer, number, unknown]> = [
        ["{oops", -32700, null],
        ['[{"jsonrpc":"2.0","id":1,"method":"ping"}]', -32600, null],
        ['{"jsonrpc":"2.0","id":42}', -32600, 42],
        ['{"jsonrpc":"1.0","id":"x","method":"ping"}', -32600, "x"],
        [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), -32700, null],
        ['{"jsonrpc":"2.0","id":9,"method":"no/such/method"}', -32601, 9],
      ];
      for (const [frame, code, id] of cases) {
        s.write(Buffer.concat([Buffer.from(frame), Buffer.from("\n")]));
        const msg = await s.next();
        assert.equal((msg.error as { code: number }).code, code, `frame ${String(frame)}`);
        assert.equal(msg.id, id);
      }
      // Duplicate ids: both requests are answered, each once.
      s.send({ jsonrpc: "2.0", id: 5, method: "ping" });
      s.send({ jsonrpc: "2.0", id: 5, method: "ping" });
      assert.equal((await s.next()).id, 5);
      assert.equal((await s.next()).id, 5);
      s.end();
      assert.deepEqual(await s.exited, { code: 0, signal: null });
      assert.equal(s.unread, 0);
    });

    test(`a frame over ${MAX_FRAME} bytes is refused and the session goes on`, async () => {
      const s = new RawSession(install, home, args);
      await s.initialize();
      const big = Buffer.alloc(MAX_FRAME + 1, 0x61);
      s.write(big);
      s.write("\n");
      const err = await s.next(20_000);
      assert.equal((err.error as { code: number }).code, -32700);
      assert.match((err.error as { message: string }).message, /exceeds 16777216 bytes/);
      const ok = await s.request(3, "tools/call", { name: "echo", arguments: { message: "after" } });
      assert.deepEqual((ok.result as { content: unknown }).content, [{ type: "text", text: "after" }]);
      s.end();
      assert.deepEqual(await s.exited, { code: 0, signal: null });
    });

    test("a partial frame then EOF ends the process cleanly", async () => {
      const s = new RawSession(install, home, args);
      await s.initialize();
      s.write('{"jsonrpc":"2.0","id":1,"method":"tools/li');
      s.end();
      assert.deepEqual(await s.exited, { code: 0, signal: null });
      assert.equal(s.unread, 0);
    });
  });
}
