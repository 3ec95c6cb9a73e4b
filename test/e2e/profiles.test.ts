// Profiles, name limits, token estimates and search mode as a user meets them: the built binary, a temp
// CLAUDE_MPM_HOME, the reference servers behind it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { installBinary, run, tempHome, type Install } from "./harness.js";
import { configPath, SERVERS, writeConfig } from "./downstreamKit.js";

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
