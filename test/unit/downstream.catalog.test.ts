import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Tool } from "@modelcontextprotocol/client";
import { configureLogging } from "../../src/log.js";
import { Catalog, type CatalogSource } from "../../src/downstream/catalog.js";

configureLogging({ level: "silent" });

const tool = (name: string): Tool => ({ name, inputSchema: { type: "object" }, annotations: { readOnlyHint: true } });

function source(name: string, over: Partial<CatalogSource> = {}): CatalogSource {
  return { name, running: true, tools: [], resources: [], templates: [], prompts: [], ...over };
}

describe("catalog", () => {
  test("tools are renamed into the namespace with their schema and annotations; only running servers are listed", () => {
    const c = new Catalog(
      [source("a", { tools: [tool("x")] }), source("b", { running: false, tools: [tool("y")] })],
      ["echo"],
      new Map(),
      new Set(),
    );
    assert.deepEqual(c.tools, [{ name: "a__x", inputSchema: { type: "object" }, annotations: { readOnlyHint: true } }]);
    assert.deepEqual(c.tool("a__x"), { server: "a", name: "x" });
  });

  test("tools that run only as MCP tasks are left out; task hints are dropped from the others", () => {
    const c = new Catalog(
      [source("t", { tools: [{ ...tool("task_only"), execution: { taskSupport: "required" } }, { ...tool("either"), execution: { taskSupport: "optional" } }] })],
      [],
      new Map(),
      new Set(),
    );
    assert.deepEqual(c.tools.map((t) => t.name), ["t__either"]);
    assert.equal(c.tools[0]!.execution, undefined);
  });

  test("a down server's last known tools keep their names, so a call can say it is down", () => {
    const known = new Map([["b", ["y"]]]);
    const c = new Catalog([source("b", { running: false })], [], known, new Set());
    assert.deepEqual(c.tools, []);
    assert.deepEqual(c.tool("b__y"), { server: "b", name: "y" });
  });

  test("a resource URI served twice stays with the server listed first; templates route reads", () => {
    const c = new Catalog(
      [
        source("first", { resources: [{ uri: "file:///same", name: "same" }], templates: [{ uriTemplate: "notes://{id}", name: "notes" }] }),
        source("second", { resources: [{ uri: "file:///same", name: "same too" }, { uri: "file:///other", name: "other" }] }),
      ],
      [],
      new Map(),
      new Set(),
    );
    assert.deepEqual(c.resources.map((r) => r.name), ["same", "other"]);
    assert.equal(c.resourceServer("file:///same"), "first");
    assert.equal(c.resourceServer("file:///other"), "second");
    assert.equal(c.resourceServer("notes://42"), "first");
    assert.equal(c.resourceServer("unknown://x"), undefined);
    assert.equal(c.templateServer("notes://{id}"), "first");
  });

  test("prompts are namespaced like tools, separately from them", () => {
    const c = new Catalog([source("s", { tools: [tool("p")], prompts: [{ name: "p", description: "d" }] })], [], new Map(), new Set());
    assert.deepEqual(c.prompts, [{ name: "s__p", description: "d" }]);
    assert.deepEqual(c.prompt("s__p"), { server: "s", name: "p" });
  });
});
