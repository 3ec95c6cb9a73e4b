// Profiles, name limits, token estimates and search mode as a user meets them: the built binary, a temp
// CLAUDE_MPM_HOME, the reference servers behind it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/client";
import { connectClient, expectNoProcessLeft, installBinary, run, stopGateway, tempHome, waitFor, type Install } from "./harness.js";
import { configPath, SERVERS, textOf, waitForTools, writeConfig } from "./downstreamKit.js";

const NOTE = "Counts are estimated tokens (cl100k_base tokenizer); the model's own tokenizer counts differently, so read them as an estimate.";
const PROFILES = {
  coding: { tools: ["memory__*", "everything__echo", "calculator"], exclude: ["*__delete_*"], descriptions: { everything__echo: "Echo text back." } },
  lean: { search: true },
};

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

function homeWith(config: Record<string, unknown>): string {
  const home = tempHome();
  writeConfig(home, JSON.stringify(config));
  return home;
}

describe("tools --tokens", () => {
  const home = homeWith({ mcpServers: { everything: SERVERS.everything(), memory: SERVERS.memory() }, profiles: PROFILES });

  test("a profile's tools: included by pattern, excluded after, with its descriptions; names shortened to a limit", () => {
    const r = run(install, home, ["tools", "--tokens", "--json", "--profile", "coding", "--max-name-length", "20"]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { profile: string; search: boolean; tools: Array<{ name: string; tokens: number }>; total: number; note: string };
    const names = out.tools.map((t) => t.name);
    assert.deepEqual(names.slice(0, 2), ["calculator", "everything__echo"]);
    assert.ok(names.includes("memory__read_graph") && names.includes("memory__open_nodes"), names.join());
    assert.ok(!names.some((n) => n.includes("delete")), "exclude drops memory's delete_* tools");
    for (const n of names) assert.ok(n.length <= 20, `${n} is within the limit`);
    assert.equal(names.length, 8);
    assert.equal(new Set(names).size, names.length);
    assert.equal(out.total, out.tools.reduce((s, t) => s + t.tokens, 0));
    assert.equal(out.profile, "coding");
    const again = JSON.parse(run(install, home, ["tools", "--tokens", "--json", "--profile", "coding", "--max-name-length", "20"]).stdout) as typeof out;
    assert.deepEqual(again.tools.map((t) => t.name), names, "the same short names on every run");
    const desc = JSON.parse(run(install, home, ["tools", "--json", "--profile", "coding"]).stdout) as Array<{ name: string; description: string }>;
    assert.equal(desc.find((t) => t.name === "everything__echo")?.description, "Echo text back.");
  });

  test("all tools, a profile and search mode: search mode costs a constant few hundred tokens", () => {
    const all = run(install, home, ["tools", "--tokens"]);
    assert.equal(all.status, 0, all.stderr);
    const lines = all.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "TOKENS  TOOL");
    assert.equal(lines.at(-1), NOTE);
    const total = (text: string) => Number(/^\s*(\d+)\s+total/m.exec(text)![1]);
    assert.match(lines.at(-2)!, /^\s*\d+ {2}total \(\d+ tools\)$/);
    const lean = run(install, home, ["tools", "--tokens", "--profile", "lean"]);
    assert.deepEqual(
      lean.stdout.trimEnd().split("\n").slice(1, 4).map((l) => l.trim().split(/\s+/)[1]),
      ["search_tools", "describe_tools", "call_tool"],
    );
    assert.match(lean.stdout, /total \(3 tools, profile "lean", search mode\)/);
    assert.ok(total(lean.stdout) < 500 && total(lean.stdout) * 5 < total(all.stdout), `${total(lean.stdout)} vs ${total(all.stdout)}`);
  });

  test("an unknown profile is a usage error naming the profiles there are", () => {
    const r = run(install, home, ["tools", "--tokens", "--profile", "codin"]);
    assert.deepEqual(r, { status: 2, stdout: "", stderr: `claude-mpm-gateway: unknown profile "codin": ${configPath(home)} defines "coding", "lean"\n` });
  });

  test("a mistake in profiles names the file, the JSON path and the problem", () => {
    const bad = homeWith({ mcpServers: {}, profiles: { coding: { tool: ["memory__*"] } } });
    const r = run(install, bad, ["tools", "--profile", "coding"]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `claude-mpm-gateway: ${configPath(bad)}: $.profiles.coding.tool: unknown key; a profile has tools, exclude, prompts, resources, search, descriptions\n`);
  });
});

const BUILTINS = ["echo", "calculator", "system_info", "health_check", "document_summarizer"];

/** The outcome of a call as a client sees it: the result, or the JSON-RPC error it was answered with. */
async function outcome(client: Client, name: string, args: Record<string, unknown>): Promise<unknown> {
  try {
    return await client.callTool({ name, arguments: args });
  } catch (err) {
    return { error: (err as Error).message, code: (err as { code?: unknown }).code };
  }
}

describe("sessions with a profile", () => {
  const home = homeWith({
    mcpServers: { everything: SERVERS.everything(), memory: { ...SERVERS.memory(), env: { MEMORY_FILE_PATH: join(tempHome(), "memory.jsonl") } } },
    profiles: { ...PROFILES, mem: { tools: ["memory__*"] }, docs: { tools: ["calculator"], resources: ["demo://resource/static/document/*"], prompts: ["everything__simple-prompt"] } },
  });
  const clients: Client[] = [];
  const open = async (args: string[]) => {
    const c = await connectClient(install, home, args);
    clients.push(c.client);
    return c;
  };
  after(async () => {
    for (const c of clients) await c.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("tools: included by pattern, excluded after, described by the profile; hidden ones cannot be called", async () => {
    const { client } = await open(["--profile", "coding"]);
    const tools = await waitForTools(client, "memory's tools", (n) => n.includes("memory__read_graph"));
    assert.deepEqual(
      tools.map((t) => t.name),
      ["calculator", "everything__echo", "memory__create_entities", "memory__create_relations", "memory__add_observations", "memory__read_graph", "memory__search_nodes", "memory__open_nodes"],
    );
    assert.equal(tools.find((t) => t.name === "everything__echo")?.description, "Echo text back.");
    assert.equal(textOf(await client.callTool({ name: "everything__echo", arguments: { message: "hi" } })), "Echo: hi");
    for (const hidden of ["memory__delete_entities", "echo"]) {
      const r = await client.callTool({ name: hidden, arguments: {} });
      assert.equal(r.isError, true);
      assert.equal(textOf(r), `Unknown tool "${hidden}". Run "claude-mpm-gateway tools" to list the tools served.`);
    }
  });

  test("prompts and resources follow the servers a profile includes, or its own patterns", async () => {
    const mem = (await open(["--profile", "mem"])).client;
    await waitForTools(mem, "memory's tools", (n) => n.includes("memory__read_graph"));
    assert.deepEqual((await mem.listPrompts()).prompts, [], "memory has no prompts, everything is not in the profile");
    assert.deepEqual((await mem.listResources()).resources.map((r) => r.uri), ["memory://knowledge-graph"], "memory's own, none of everything's");
    await assert.rejects(mem.readResource({ uri: "demo://resource/static/document/architecture.md" }), /Resource not found/);
    await assert.rejects(mem.getPrompt({ name: "everything__simple-prompt" }), /Unknown prompt/);

    const docs = (await open(["--profile", "docs"])).client;
    assert.deepEqual((await docs.listTools()).tools.map((t) => t.name), ["calculator"]);
    assert.deepEqual((await docs.listPrompts()).prompts.map((p) => p.name), ["everything__simple-prompt"]);
    const uris = (await docs.listResources()).resources.map((r) => r.uri);
    assert.ok(uris.length > 0 && uris.every((u) => u.startsWith("demo://resource/static/document/")), uris.join());
    const read = await docs.readResource({ uri: uris[0]! });
    assert.equal(read.contents[0]?.uri, uris[0]);
    assert.ok(textOf(await docs.getPrompt({ name: "everything__simple-prompt" }).then((p) => ({ content: [p.messages[0]!.content] }))).length > 0);
  });

  test("names within a client's limit: stable, unique, and the call reaches the tool under its own name", async () => {
    const { client } = await open(["--max-name-length", "20"]);
    const tools = await waitForTools(client, "memory's tools", (n) => n.includes("memory__read_graph"));
    const names = tools.map((t) => t.name);
    assert.ok(names.every((n) => n.length <= 20 && /^[a-zA-Z0-9_-]+$/.test(n)), names.join());
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(names.slice(0, 5), BUILTINS, "names that fit are kept");
    const create = tools.find((t) => t.description?.startsWith("Create multiple new entities"))!;
    assert.notEqual(create.name, "memory__create_entities");
    const r = await client.callTool({ name: create.name, arguments: { entities: [{ name: "gw-limit", entityType: "test", observations: ["shortened"] }] } });
    assert.ok(!r.isError, textOf(r));
    assert.match(textOf(await client.callTool({ name: "memory__read_graph", arguments: {} })), /gw-limit/);
    const again = (await open(["--max-name-length", "20"])).client;
    assert.deepEqual((await again.listTools()).tools.map((t) => t.name), names, "the same names for another client");
  });

  test("search mode: three tools; search finds everything__echo; call_tool is a direct call, errors included", async () => {
    const { client } = await open(["--profile", "lean"]);
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ["search_tools", "describe_tools", "call_tool"]);
    assert.match(client.getInstructions() ?? "", /found with search_tools, described with describe_tools and run with call_tool/);
    const found = textOf(await client.callTool({ name: "search_tools", arguments: { query: "echo a message" } }));
    const names = found.split("\n").slice(1).map((l) => l.split(":")[0]);
    assert.ok(names.slice(0, 3).includes("everything__echo"), found);
    const described = JSON.parse(textOf(await client.callTool({ name: "describe_tools", arguments: { names: ["everything__echo"] } }))) as Array<{ name: string; inputSchema: { required?: string[] } }>;
    assert.equal(described[0]?.name, "everything__echo");
    assert.deepEqual(described[0]?.inputSchema.required, ["message"]);
    for (const [name, args] of [
      ["everything__echo", { message: "hi" }],
      ["everything__echo", {}],
      ["everything__echo", { message: 3 }],
      ["no_such_tool", {}],
    ] as const) {
      const direct = await outcome(client, name, args);
      assert.deepEqual(await outcome(client, "call_tool", { name, arguments: args }), direct, `${name} ${JSON.stringify(args)}`);
    }
    assert.equal(textOf(await client.callTool({ name: "call_tool", arguments: { name: "everything__echo", arguments: { message: "hi" } } })), "Echo: hi");
  });

  test("an unknown profile: a JSON-RPC error naming it for the client, a line on stderr for its user", async () => {
    const { client, transport } = await open(["--profile", "nope"]);
    let stderr = "";
    transport.stderr?.on("data", (d) => (stderr += d));
    const error = `unknown profile "nope": ${configPath(home)} defines "coding", "lean", "mem", "docs"`;
    await assert.rejects(client.listTools(), (err: Error & { code?: number }) => err.code === -32600 && err.message.includes(error));
    await assert.rejects(client.callTool({ name: "echo", arguments: { message: "x" } }), /unknown profile "nope"/);
    await waitFor("the bridge's stderr line", () => stderr.includes(error));
  });

  test("status shows each session's client, profile and estimated tool tokens", async () => {
    const r = run(install, home, ["status", "--json"]);
    const clients = (JSON.parse(r.stdout) as { clients: Array<{ client: string; profile: string | null; tools: number; tool_tokens: number | null; search: boolean }> }).clients;
    const lean = clients.find((c) => c.profile === "lean")!;
    assert.deepEqual({ ...lean, tool_tokens: typeof lean.tool_tokens }, { client: "e2e", profile: "lean", search: true, tools: 3, tool_tokens: "number" });
    assert.ok(lean.tool_tokens! > 100 && lean.tool_tokens! < 500);
    const coding = clients.find((c) => c.profile === "coding")!;
    assert.equal(coding.tools, 8);
    const human = run(install, home, ["status"]).stdout;
    assert.match(human, /Clients \(tool tokens are estimates\):\n/);
    assert.match(human, /^ {4}e2e: profile "lean" \(search mode\), 3 tools, ~\d+ tokens$/m);
    assert.match(human, /^ {4}e2e: unknown profile "nope": /m);
  });
});

describe("hot reload of a profile", () => {
  const home = homeWith({ mcpServers: { everything: SERVERS.everything() }, profiles: { p: { tools: ["calculator"] } } });
  let client: Client;
  before(async () => {
    ({ client } = await connectClient(install, home, ["--profile", "p"]));
  });
  after(async () => {
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("an edited profile changes the session's list, with tools/list_changed", async () => {
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ["calculator"]);
    let changed = 0;
    client.setNotificationHandler("notifications/tools/list_changed", () => void changed++);
    writeConfig(home, JSON.stringify({ mcpServers: { everything: SERVERS.everything() }, profiles: { p: { tools: ["everything__echo", "echo"] } } }));
    await waitForTools(client, "the edited profile", (n) => n.join() === "echo,everything__echo");
    await waitFor("tools/list_changed", () => changed > 0, 30_000);
  });

  test("a profile removed from the config: the session's requests fail with its name; restored, they work", async () => {
    writeConfig(home, JSON.stringify({ mcpServers: { everything: SERVERS.everything() }, profiles: {} }));
    // A config edit is applied by the primary's watcher (debounced): bounded for a loaded machine, as waitForTools is.
    await waitFor("the profile to be gone", () => client.listTools().then(() => false, (err: Error) => /unknown profile "p"/.test(err.message)), 30_000);
    writeConfig(home, JSON.stringify({ mcpServers: { everything: SERVERS.everything() }, profiles: { p: { search: true } } }));
    const listed = () => client.listTools().then((r) => r.tools.map((t) => t.name).join(), () => "");
    await waitFor("search mode", async () => (await listed()) === "search_tools,describe_tools,call_tool", 30_000);
  });
});

describe("install --profile", () => {
  test("the client's entry launches the gateway with the profile; Cursor's carries its name limit", () => {
    const home = homeWith({ mcpServers: {}, profiles: PROFILES });
    mkdirSync(join(home, ".cursor"));
    const r = run(install, home, ["install", "--client", "cursor", "--profile", "lean"]);
    assert.equal(r.status, 0, r.stderr);
    const entry = (JSON.parse(readFileSync(join(home, ".cursor", "mcp.json"), "utf8")) as { mcpServers: Record<string, unknown> }).mcpServers["claude-mpm-gateway"];
    assert.deepEqual(entry, { command: install.bin, args: ["--profile", "lean", "--max-name-length", "41"] });
    const refused = run(install, home, ["install", "--client", "cursor", "--profile", "codin", "--name", "other"]);
    assert.deepEqual(refused, { status: 2, stdout: "", stderr: `claude-mpm-gateway: unknown profile "codin": ${configPath(home)} defines "coding", "lean"\n` });
  });
});
