import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Profile } from "../../src/downstream/profileConfig.js";
import type { ListedTool } from "../../src/profiles/searchMode.js";
import { SessionView, type ProfileSource } from "../../src/profiles/sessionView.js";

const profile = (name: string, p: Partial<Profile>): Profile => ({ name, exclude: [], search: false, descriptions: {}, ...p });
const tool = (name: string, description = `${name} tool`): ListedTool => ({ name, description, inputSchema: { type: "object" } });
const ALL = [tool("echo"), tool("everything__echo", "Echoes back the input string"), tool("memory__read_graph"), tool("memory__delete_entities")];

function source(profiles: Record<string, Profile>): ProfileSource & { set(p: Record<string, Profile>): void } {
  let current = profiles;
  return { configPath: "/c/config.json", profiles: () => current, set: (p) => (current = p) };
}

const call = async (real: string, args: Record<string, unknown> | undefined) => ({ content: [{ type: "text" as const, text: `${real} ${JSON.stringify(args)}` }] });
const unknown = (name: string) => ({ content: [{ type: "text" as const, text: `Unknown tool "${name}"` }], isError: true });
/** The registry's answer: the tool's result, or its own "unknown tool". */
const access = { all: () => ALL, ready: async () => undefined, call: async (real: string, args: Record<string, unknown> | undefined) => (ALL.some((t) => t.name === real) ? call(real, args) : unknown(real)), unknown };

describe("a session's view", () => {
  test("no profile asked and none named default: every tool", () => {
    const view = new SessionView(source({ coding: profile("coding", { tools: ["memory__*"] }) }));
    assert.deepEqual(view.tools(ALL), ALL);
    assert.equal(view.profileName(), undefined);
  });

  test("the default profile applies to a client that names none", () => {
    const view = new SessionView(source({ default: profile("default", { exclude: ["*__delete_*"] }) }));
    assert.deepEqual(
      view.tools(ALL).map((t) => t.name),
      ["echo", "everything__echo", "memory__read_graph"],
    );
    assert.equal(view.profileName(), "default");
  });

  test("a hidden tool is unknown to the session, even by its real name", async () => {
    const view = new SessionView(source({ coding: profile("coding", { tools: ["memory__*"], exclude: ["*__delete_*"] }) }), { profile: "coding" });
    assert.deepEqual(await view.callTool("memory__delete_entities", {}, access), unknown("memory__delete_entities"));
    assert.deepEqual(await view.callTool("memory__read_graph", { a: 1 }, access), await call("memory__read_graph", { a: 1 }));
  });

  test("an unknown profile fails every request with a JSON-RPC error naming it; defining it later fixes the session", () => {
    const src = source({ coding: profile("coding", {}) });
    const view = new SessionView(src, { profile: "lean" });
    assert.throws(
      () => view.tools(ALL),
      (err: Error & { code?: number }) => err.code === -32600 && err.message === `unknown profile "lean": /c/config.json defines "coding"`,
    );
    assert.equal(view.problem(), `unknown profile "lean": /c/config.json defines "coding"`);
    src.set({ coding: profile("coding", {}), lean: profile("lean", { search: true }) });
    assert.equal(view.problem(), undefined);
    assert.deepEqual(
      view.tools(ALL).map((t) => t.name),
      ["search_tools", "describe_tools", "call_tool"],
    );
  });

  test("a profile edited in the config applies at the next request", () => {
    const src = source({ coding: profile("coding", { tools: ["echo"] }) });
    const view = new SessionView(src, { profile: "coding" });
    assert.deepEqual(view.tools(ALL).map((t) => t.name), ["echo"]);
    src.set({ coding: profile("coding", { tools: ["memory__*"] }) });
    assert.deepEqual(view.tools(ALL).map((t) => t.name), ["memory__read_graph", "memory__delete_entities"]);
  });

  test("search mode: search, then call_tool by the short name, reaching the real one", async () => {
    const view = new SessionView(source({ lean: profile("lean", { search: true }) }), { profile: "lean", maxNameLength: 16 });
    const found = (await view.callTool("search_tools", { query: "echo a message" }, access)) as { content: Array<{ text: string }> };
    const names = found.content[0]!.text.split("\n").slice(1).map((l) => l.split(":")[0]!);
    assert.equal(names[0], "echo");
    const short = names.find((n) => n.startsWith("everything_"))!;
    assert.ok(short.length <= 16, short);
    assert.deepEqual(await view.callTool("call_tool", { name: short, arguments: { message: "hi" } }, access), await call("everything__echo", { message: "hi" }));
    assert.deepEqual(await view.callTool(short, { message: "hi" }, access), await call("everything__echo", { message: "hi" }), "callable by its own name too");
    assert.deepEqual(await view.callTool("call_tool", { name: "nope" }, access), unknown("nope"));
  });

  test("prompts and resources are filtered by the same view", () => {
    const view = new SessionView(source({ mem: profile("mem", { tools: ["memory__*"] }) }), { profile: "mem" });
    const serverOf = (n: string) => (n.startsWith("memory") ? "memory" : n.startsWith("demo:") || n.startsWith("everything") ? "everything" : undefined);
    assert.deepEqual(view.prompts([{ name: "memory__p" }, { name: "everything__simple-prompt" }], serverOf), [{ name: "memory__p" }]);
    assert.deepEqual(view.resources([{ uri: "memory://graph" }, { uri: "demo://resource/static/1" }], serverOf), [{ uri: "memory://graph" }]);
    assert.ok(!view.allowsResource("demo://resource/static/1", "everything"));
    assert.equal(view.resolvePrompt("everything__simple-prompt", [{ name: "everything__simple-prompt" }], serverOf), undefined);
  });
});
