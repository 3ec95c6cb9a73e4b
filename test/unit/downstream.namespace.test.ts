import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { candidateName, EXPORTED_NAME, Namespace, type Original } from "../../src/downstream/namespace.js";

const BUILTINS = ["echo", "calculator", "system_info", "health_check", "document_summarizer"];

describe("namespace", () => {
  test("a plain pair becomes <server>__<name> and maps back", () => {
    const ns = new Namespace([{ server: "everything", name: "echo" }], BUILTINS);
    assert.equal(ns.exported("everything", "echo"), "everything__echo");
    assert.deepEqual(ns.resolve("everything__echo"), { server: "everything", name: "echo" });
    assert.equal(ns.resolve("echo"), undefined);
    assert.equal(ns.exported("everything", "nope"), undefined);
  });

  test("characters outside [a-zA-Z0-9_-] are replaced", () => {
    const ns = new Namespace([{ server: "my server.v2", name: "get/item:é" }]);
    const name = ns.exported("my server.v2", "get/item:é")!;
    assert.equal(name, "my_server_v2__get_item__");
    assert.match(name, EXPORTED_NAME);
  });

  test("a long server name is shortened with a stable hash, keeping the tool name whole", () => {
    const server = "a-really-quite-remarkably-long-server-name-for-testing";
    const tool = "get_the_current_weather_forecast";
    const first = candidateName(server, tool);
    assert.equal(first, candidateName(server, tool), "stable");
    assert.ok(first.length <= 64);
    assert.ok(first.endsWith(`__${tool}`), first);
    assert.ok(first.startsWith("a-really-quite-re_"), first);
    // Two long servers with the same beginning stay apart.
    assert.notEqual(candidateName(server + "-2", tool), first);
  });

  test("a name too long even with a short prefix is cut and hashed to 64", () => {
    const tool = "x".repeat(100);
    const a = candidateName("srv", tool);
    const b = candidateName("srv", tool + "y");
    assert.equal(a.length, 64);
    assert.equal(b.length, 64);
    assert.notEqual(a, b);
    assert.match(a, EXPORTED_NAME);
  });

  test("colliding pairs: the unchanged one keeps the name, the other gets a hash suffix", () => {
    const pairs: Original[] = [
      { server: "a.b", name: "x" },
      { server: "a_b", name: "x" },
    ];
    const ns = new Namespace(pairs);
    assert.equal(ns.exported("a_b", "x"), "a_b__x");
    const other = ns.exported("a.b", "x")!;
    assert.match(other, /^a_b__x_[0-9a-f]{8}$/);
    assert.deepEqual(ns.resolve(other), { server: "a.b", name: "x" });
    // Same result in either order.
    const reversed = new Namespace([...pairs].reverse());
    assert.equal(reversed.exported("a.b", "x"), other);
  });

  test("both exact: the first listed wins (a__b/c against a/b__c)", () => {
    const ns = new Namespace([
      { server: "a", name: "b__c" },
      { server: "a__b", name: "c" },
    ]);
    assert.equal(ns.exported("a", "b__c"), "a__b__c");
    assert.match(ns.exported("a__b", "c")!, /^a__b__c_[0-9a-f]{8}$/);
  });

  test("never takes a reserved name", () => {
    const ns = new Namespace([{ server: "x", name: "y" }], ["x__y"]);
    assert.notEqual(ns.exported("x", "y"), "x__y");
    assert.equal(ns.resolve("x__y"), undefined);
  });

  test("property: every name is valid, unique, not a built-in, and maps back", () => {
    const part = fc.string({ minLength: 1, maxLength: 80, unit: fc.constantFrom("a", "b", "_", "-", ".", " ", "é", "Z", "9") });
    fc.assert(
      fc.property(fc.array(fc.tuple(part, part).map(([server, name]) => ({ server, name })), { maxLength: 40 }), (pairs) => {
        const ns = new Namespace(pairs, BUILTINS);
        const seen = new Set<string>();
        for (const p of pairs) {
          const name = ns.exported(p.server, p.name);
          assert.ok(name, "every pair has a name");
          assert.match(name, EXPORTED_NAME);
          assert.ok(!BUILTINS.includes(name));
          assert.deepEqual(ns.resolve(name), { server: p.server, name: p.name }, "maps back");
          seen.add(name);
        }
        assert.equal(ns.size, seen.size);
      }),
      { numRuns: 300 },
    );
  });
});
