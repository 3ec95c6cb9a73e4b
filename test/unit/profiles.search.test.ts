import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { rank, terms } from "../../src/profiles/bm25.js";
import { callSearchTool, SEARCH_MODE_TOOLS, type ListedTool, type SearchTarget } from "../../src/profiles/searchMode.js";
import { estimateTools, modelText } from "../../src/profiles/tokens.js";

const tool = (name: string, description: string): ListedTool => ({ name, description, inputSchema: { type: "object", properties: { message: { type: "string" } } } });
const TOOLS = [
  tool("echo", "Echoes back the input message. Handy for testing."),
  tool("everything__echo", "Echoes back the input string"),
  tool("everything__get-sum", "Returns the sum of two numbers"),
  tool("memory__create_entities", "Create multiple new entities in the knowledge graph"),
  tool("memory__delete_entities", "Delete multiple entities and their associated relations from the knowledge graph"),
  tool("filesystem__read_text_file", "Read the complete contents of a file from the file system as text."),
  tool("filesystem__list_directory", "Get a detailed listing of all files and directories in a specified path."),
];
const first = (r: { content: Array<{ text?: string }> }) => (r.content[0] as { text: string }).text;

function target(calls: Array<[string, unknown]> = []): SearchTarget<unknown> {
  return {
    tools: () => TOOLS,
    call: async (name, args) => {
      calls.push([name, args]);
      if (name === "boom") throw Object.assign(new Error("MCP error -32602: Invalid arguments"), { code: -32602 });
      return { content: [{ type: "text", text: `called ${name}` }], structuredContent: { args } };
    },
  };
}

describe("BM25 ranking", () => {
  test("terms: split at separators and camelCase, stemmed, stop words out", () => {
    assert.deepEqual(terms("everything__get-sum"), ["everything", "sum"]);
    assert.deepEqual(terms("Echoes back the inputMessage"), ["echo", "back", "input", "message"]);
  });

  test("finds the tool a task names, best first, deterministically", () => {
    assert.deepEqual(
      rank(TOOLS, "echo a message", 2).map((r) => r.doc.name),
      ["echo", "everything__echo"],
    );
    assert.equal(rank(TOOLS, "read a file", 1)[0]!.doc.name, "filesystem__read_text_file");
    assert.equal(rank(TOOLS, "add two numbers", 1)[0]!.doc.name, "everything__get-sum");
    assert.deepEqual(rank(TOOLS, "the of a", 5), []);
    assert.deepEqual(rank(TOOLS, "entities", 5), rank([...TOOLS].reverse(), "entities", 5));
  });
});

describe("search mode tools", () => {
  test("three small tools, a constant few hundred tokens", async () => {
    assert.deepEqual(
      SEARCH_MODE_TOOLS.map((t) => t.name),
      ["search_tools", "describe_tools", "call_tool"],
    );
    const { total } = await estimateTools(SEARCH_MODE_TOOLS);
    assert.ok(total > 100 && total < 500, `search mode costs ${total} tokens`);
  });

  test("search_tools lists names with one-line descriptions", async () => {
    const r = (await callSearchTool("search_tools", { query: "echo a message", limit: 2 }, target())) as { content: Array<{ text: string }> };
    assert.equal(
      first(r),
      "2 of 7 tools match (best first). describe_tools gives their parameters, call_tool runs one.\necho: Echoes back the input message.\neverything__echo: Echoes back the input string",
    );
    const none = (await callSearchTool("search_tools", { query: "quantum teleportation" }, target()))!;
    assert.equal(first(none as never), `No tool matches "quantum teleportation" among 7 tools; try other words.`);
    const bad = (await callSearchTool("search_tools", { query: "x", limit: 0 }, target())) as { isError?: boolean };
    assert.equal(bad.isError, true);
  });

  test("describe_tools gives full definitions; unknown names are said", async () => {
    const r = (await callSearchTool("describe_tools", { names: ["everything__echo", "nope"] }, target())) as { content: Array<{ text: string }>; isError?: boolean };
    const [json, note] = first(r).split("\nUnknown tools");
    assert.deepEqual(JSON.parse(json!), [{ name: "everything__echo", description: "Echoes back the input string", inputSchema: TOOLS[1]!.inputSchema }]);
    assert.equal(note, " (use search_tools to find names): nope");
    assert.equal(r.isError, undefined);
    const none = (await callSearchTool("describe_tools", { names: ["nope"] }, target())) as { isError?: boolean };
    assert.equal(none.isError, true);
  });

  test("call_tool is the session's own call: same result, same thrown error", async () => {
    const calls: Array<[string, unknown]> = [];
    const r = await callSearchTool("call_tool", { name: "everything__echo", arguments: { message: "hi" } }, target(calls));
    assert.deepEqual(r, { content: [{ type: "text", text: "called everything__echo" }], structuredContent: { args: { message: "hi" } } });
    assert.deepEqual(calls, [["everything__echo", { message: "hi" }]]);
    await assert.rejects(callSearchTool("call_tool", { name: "boom", arguments: {} }, target())!, /Invalid arguments/);
    const bad = (await callSearchTool("call_tool", { name: "x", arguments: [1] }, target())) as { isError?: boolean };
    assert.equal(bad.isError, true);
    assert.equal(callSearchTool("everything__echo", {}, target()), undefined, "not a search tool");
  });
});

describe("token estimate", () => {
  test("counts what a client sends the model for a tool: name, description, schemas", async () => {
    assert.equal(modelText({ name: "a", description: "b", inputSchema: { type: "object" } }), '{"name":"a","description":"b","input_schema":{"type":"object"}}');
    const plain = await estimateTools([{ name: "echo", description: "Echo", inputSchema: { type: "object" } }]);
    const withOutput = await estimateTools([{ name: "echo", description: "Echo", inputSchema: { type: "object" }, outputSchema: { type: "object", properties: { text: { type: "string" } } } }]);
    assert.ok(plain.total > 5 && plain.total < 30, String(plain.total));
    assert.ok(withOutput.total > plain.total);
    const two = await estimateTools(TOOLS.slice(0, 2));
    assert.equal(two.total, two.tools[0]!.tokens + two.tools[1]!.tokens);
    assert.deepEqual(two.tools.map((t) => t.name), ["echo", "everything__echo"]);
  });
});
