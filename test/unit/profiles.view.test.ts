import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Profile } from "../../src/downstream/profileConfig.js";
import { isGatewayError } from "../../src/errors.js";
import { Glob } from "../../src/profiles/glob.js";
import { cursorNameLimit, fitNames, parseNameLimit } from "../../src/profiles/nameLimit.js";
import { profileFor, ProfileView } from "../../src/profiles/view.js";

const profile = (p: Partial<Profile>): Profile => ({ name: "p", exclude: [], search: false, descriptions: {}, ...p });
const TOOLS = ["echo", "calculator", "memory__create_entities", "memory__delete_entities", "memory__read_graph", "everything__echo", "everything__get-sum"].map((name) => ({
  name,
  description: `${name} does things`,
}));
const SUFFIXES = ["", "a", "b", "_", "ab", "ba", "aaaa", "abab_ba", "_b_a_bab"];
const names = (list: Array<{ name: string }>) => list.map((t) => t.name);

describe("glob", () => {
  test("* spans any run, ? one character, the rest is literal and case-sensitive", () => {
    assert.ok(new Glob("memory__*").matches("memory__read_graph"));
    assert.ok(new Glob("*__delete_*").matches("memory__delete_entities"));
    assert.ok(new Glob("get-su?").matches("get-sum"));
    assert.ok(!new Glob("get-su?").matches("get-su"));
    assert.ok(!new Glob("Memory__*").matches("memory__x"));
    assert.ok(new Glob("**a**").matches("a"));
  });

  test("agrees with an equivalent regular expression", () => {
    const alphabet = fc.constantFrom("a", "b", "_");
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("a", "b", "_", "*", "?"), maxLength: 8 }), fc.string({ unit: alphabet, maxLength: 10 }), (pattern, text) => {
        const re = new RegExp(`^${pattern.replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "s");
        assert.equal(new Glob(pattern).matches(text), re.test(text));
        // No text beginning with `text` matches when the glob says none can.
        if (!new Glob(pattern).canMatchPrefix(text)) for (const s of SUFFIXES) assert.ok(!re.test(text + s));
        if (new Glob(pattern).matchesAllWithPrefix(text)) for (const s of SUFFIXES) assert.ok(re.test(text + s));
      }),
    );
  });

  test("answers whether a server's names can match, and whether all of them do", () => {
    assert.ok(new Glob("memory__*").canMatchPrefix("memory__"));
    assert.ok(!new Glob("everything__echo").canMatchPrefix("memory__"));
    assert.ok(new Glob("mem*").canMatchPrefix("memory__"));
    assert.ok(new Glob("*__delete_*").canMatchPrefix("memory__"));
    assert.ok(new Glob("memory__*").matchesAllWithPrefix("memory__"));
    assert.ok(!new Glob("*__delete_*").matchesAllWithPrefix("memory__"));
    assert.ok(new Glob("*").matchesAllWithPrefix("x__"));
  });
});

describe("profile view", () => {
  test("no profile: every tool, as it is", () => {
    const view = new ProfileView();
    assert.deepEqual(view.tools(TOOLS), TOOLS);
  });

  test("tools includes, exclude drops after it, built-ins by their own names", () => {
    const view = new ProfileView(profile({ tools: ["memory__*", "everything__echo", "calculator"], exclude: ["*__delete_*"] }));
    assert.deepEqual(names(view.tools(TOOLS)), ["calculator", "memory__create_entities", "memory__read_graph", "everything__echo"]);
    assert.equal(view.resolveTool("memory__delete_entities", TOOLS), undefined);
    assert.equal(view.resolveTool("echo", TOOLS), undefined);
    assert.equal(view.resolveTool("everything__echo", TOOLS), "everything__echo");
  });

  test("exclude alone drops from everything", () => {
    const view = new ProfileView(profile({ exclude: ["everything__*", "echo"] }));
    assert.deepEqual(names(view.tools(TOOLS)), ["calculator", "memory__create_entities", "memory__delete_entities", "memory__read_graph"]);
  });

  test("descriptions override the listed text by exported name", () => {
    const view = new ProfileView(profile({ descriptions: { everything__echo: "Echo." } }));
    const echo = view.tools(TOOLS).find((t) => t.name === "everything__echo")!;
    assert.equal(echo.description, "Echo.");
    assert.equal(TOOLS.find((t) => t.name === "everything__echo")!.description, "everything__echo does things", "the shared list is untouched");
  });

  test("servers: included when some pattern can name their tools, not when an exclude drops them all", () => {
    const view = new ProfileView(profile({ tools: ["memory__*", "everything__echo", "calculator"], exclude: ["everything__*"] }));
    assert.ok(view.includesServer("memory"));
    assert.ok(!view.includesServer("everything"));
    assert.ok(!view.includesServer("filesystem"));
    assert.ok(new ProfileView().includesServer("filesystem"));
  });

  test("prompts and resources follow their server unless the profile lists them", () => {
    const view = new ProfileView(profile({ tools: ["everything__echo"] }));
    assert.ok(view.includesPrompt("everything__simple-prompt", "everything"));
    assert.ok(!view.includesPrompt("memory__p", "memory"));
    assert.ok(view.includesResource("demo://resource/static/document/a.md", "everything"));
    assert.ok(!view.includesResource("memory://x", "memory"));
    const listed = new ProfileView(profile({ tools: ["everything__echo"], prompts: [], resources: ["demo://resource/static/*"], exclude: ["*__simple-*"] }));
    assert.ok(!listed.includesPrompt("everything__args-prompt", "everything"));
    assert.ok(listed.includesResource("demo://resource/static/document/a.md", "everything"));
    assert.ok(!listed.includesResource("demo://resource/dynamic/1", "everything"));
    const byName = new ProfileView(profile({ prompts: ["everything__*"], exclude: ["*__simple-*"] }));
    assert.ok(byName.includesPrompt("everything__args-prompt", "everything"));
    assert.ok(!byName.includesPrompt("everything__simple-prompt", "everything"));
  });

  test("an unknown profile is an error naming the config and the profiles it has; none asked means default", () => {
    const profiles = { default: profile({ name: "default" }), coding: profile({ name: "coding" }) };
    assert.equal(profileFor(profiles, undefined, "/c.json")?.name, "default");
    assert.equal(profileFor({ coding: profiles.coding }, undefined, "/c.json"), undefined);
    assert.equal(profileFor(profiles, "coding", "/c.json")?.name, "coding");
    assert.throws(
      () => profileFor(profiles, "codin", "/c.json"),
      (err) => isGatewayError(err, "PROFILE_UNKNOWN") && err.message === `unknown profile "codin": /c.json defines "default", "coding"`,
    );
    assert.throws(() => profileFor({}, "toString", "/c.json"), /defines no profiles/);
  });
});

describe("names within a client's limit", () => {
  const long = ["filesystem__list_directory_with_sizes", "filesystem__list_directory", "a_server_with_a_long_name__and_a_long_tool_name"];

  test("names that fit stay; longer ones are cut with a hash, unique, within the limit", () => {
    const fitted = fitNames(long, 30);
    assert.equal(fitted.get("filesystem__list_directory"), "filesystem__list_directory");
    const short = fitted.get("filesystem__list_directory_with_sizes")!;
    assert.ok(short.length <= 30 && short.startsWith("filesystem__list_"), short);
    assert.match(short, /^[a-zA-Z0-9_-]+$/);
    assert.equal(new Set(fitted.values()).size, long.length);
  });

  test("stable whatever the order the names come in (servers start in any order)", () => {
    assert.deepEqual(new Map([...fitNames(long, 24)].sort()), new Map([...fitNames([...long].reverse(), 24)].sort()));
  });

  test("never two equal names, even for names alike up to the cut", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z_]{1,70}$/), { maxLength: 40 }), fc.integer({ min: 16, max: 64 }), (list, max) => {
        const fitted = fitNames(list, max);
        assert.equal(new Set(fitted.values()).size, list.length);
        for (const v of fitted.values()) assert.ok(v.length <= max);
      }),
    );
  });

  test("the view lists and resolves the short names; the real name is what gets called", () => {
    const view = new ProfileView(undefined, 24);
    const tools = long.map((name) => ({ name }));
    const shown = view.tools(tools);
    for (const t of shown) assert.ok(t.name.length <= 24, t.name);
    for (const [i, t] of shown.entries()) assert.equal(view.resolveTool(t.name, tools), long[i]);
    assert.equal(view.resolveTool(long[0]!, tools), undefined, "the long name is not this client's name");
  });

  test("Cursor's limit: server key and tool name within 60", () => {
    assert.equal(cursorNameLimit("claude-mpm-gateway"), 41);
    assert.equal(cursorNameLimit("x"), 58);
    assert.equal(cursorNameLimit("y".repeat(59)), 16);
    assert.equal(parseNameLimit("41"), 41);
    assert.throws(() => parseNameLimit("8"), /from 16 to 64/);
    assert.throws(() => parseNameLimit("4x"), /from 16 to 64/);
  });
});
