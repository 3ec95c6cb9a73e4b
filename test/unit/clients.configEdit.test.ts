import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { describeEdit, planInstall, planUninstall, type Edit } from "../../src/clients/configEdit.js";
import { isGatewayError } from "../../src/errors.js";

const FILE = "/home/ann/.config/Claude/claude_desktop_config.json";
const ENTRY = { command: "/opt/cmg/claude-mpm-gateway" };
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function textOf(edit: Edit): string {
  assert.ok("text" in edit, `expected a change, got ${edit.action}`);
  return edit.text;
}

describe("planInstall", () => {
  test("a missing file becomes a fresh config with only our entry", () => {
    const edit = planInstall(FILE, undefined, "claude-mpm-gateway", ENTRY);
    assert.equal(edit.action, "add");
    assert.equal(textOf(edit), json({ mcpServers: { "claude-mpm-gateway": ENTRY } }));
  });

  test("every other key and server is kept, in order, and our entry is appended", () => {
    const before = { theme: "dark", mcpServers: { a: { command: "a", env: { K: "v" } } }, zeta: [1, 2.5, "x"] };
    const edit = planInstall(FILE, json(before), "claude-mpm-gateway", ENTRY);
    assert.equal(edit.action, "add");
    assert.equal(textOf(edit), json({ theme: "dark", mcpServers: { a: before.mcpServers.a, "claude-mpm-gateway": ENTRY }, zeta: [1, 2.5, "x"] }));
  });

  test("install then uninstall gives back the original bytes (any 2-space JSON config)", () => {
    const config = fc.record({
      mcpServers: fc.dictionary(fc.string({ minLength: 1 }).filter((k) => k !== "cmg"), fc.jsonValue()),
      other: fc.dictionary(fc.string(), fc.jsonValue()),
    });
    fc.assert(
      fc.property(config, ({ mcpServers, other }) => {
        const original = json({ ...other, mcpServers });
        const installed = textOf(planInstall(FILE, original, "cmg", ENTRY));
        assert.deepEqual(JSON.parse(installed).mcpServers.cmg, ENTRY);
        assert.equal(textOf(planUninstall(FILE, installed, "cmg")), original);
      }),
      { numRuns: 200 },
    );
  });

  test('a server named "__proto__" is kept by install and uninstall like any other', () => {
    const original = '{\n  "mcpServers": {\n    "__proto__": {\n      "command": "x"\n    }\n  }\n}\n';
    const installed = textOf(planInstall(FILE, original, "cmg", ENTRY));
    assert.equal(installed, json(JSON.parse('{"mcpServers": {"__proto__": {"command": "x"}, "cmg": {"command": "/opt/cmg/claude-mpm-gateway"}}}')));
    assert.equal(textOf(planUninstall(FILE, installed, "cmg")), original);
  });

  test("the file's indentation, line endings, byte order mark and missing final newline are kept", () => {
    const tabbed = '\uFEFF{\r\n\t"mcpServers": {}\r\n}';
    const text = textOf(planInstall(FILE, tabbed, "cmg", ENTRY));
    assert.equal(text, '\uFEFF{\r\n\t"mcpServers": {\r\n\t\t"cmg": {\r\n\t\t\t"command": "/opt/cmg/claude-mpm-gateway"\r\n\t\t}\r\n\t}\r\n}');
  });

  test("the same entry again is unchanged; a moved binary is an update that keeps the user's env", () => {
    const installed = json({ mcpServers: { cmg: ENTRY } });
    assert.deepEqual(planInstall(FILE, installed, "cmg", ENTRY), { action: "unchanged", before: ENTRY });

    const old = { command: "/old/path", args: ["--x"], env: { CLAUDE_MPM_HOME: "/data" } };
    const edit = planInstall(FILE, json({ mcpServers: { cmg: old } }), "cmg", ENTRY);
    assert.equal(edit.action, "update");
    assert.deepEqual(JSON.parse(textOf(edit)).mcpServers.cmg, { command: ENTRY.command, env: { CLAUDE_MPM_HOME: "/data" } });
    const reinstalled = planInstall(FILE, textOf(edit), "cmg", ENTRY);
    assert.equal(reinstalled.action, "unchanged");
  });

  test("an empty or whitespace-only file counts as an empty config", () => {
    for (const text of ["", "  \n"]) assert.equal(planInstall(FILE, text, "cmg", ENTRY).action, "add");
  });

  test("a malformed config is refused with the file and the problem named", () => {
    const cases: Array<[string, RegExp]> = [
      ['{"mcpServers": {', /is not valid JSON/],
      ['{"a": 1,}', /is not valid JSON/],
      ["[]", /top level is an array, expected a JSON object/],
      ['"text"', /top level is a string/],
      ['{"mcpServers": []}', /"mcpServers" is an array, expected an object/],
      ['{"mcpServers": "x"}', /"mcpServers" is a string/],
      ['{"mcpServers": null}', /"mcpServers" is null/],
    ];
    for (const [text, problem] of cases) {
      for (const plan of [() => planInstall(FILE, text, "cmg", ENTRY), () => planUninstall(FILE, text, "cmg")]) {
        assert.throws(plan, (err) => isGatewayError(err, "CLIENT_CONFIG") && err.message.includes(FILE) && problem.test(err.message), text);
      }
    }
  });
});

describe("surgical edits", () => {
  const odd = `{
  // my settings
  "big": 12345678901234567890,
  "f": 1.0,   "compact": {"a":[1,2]},
  "mcpServers": {
    "a": {"command": "a", "env": {"X": "1"}} // trailing comment
  }
}
`;

  test("big integers, 1.0, comments and odd layout are kept byte for byte; only the entry is inserted", () => {
    const text = textOf(planInstall(FILE, odd, "cmg", ENTRY));
    const inserted = `,
    "cmg": {
      "command": "/opt/cmg/claude-mpm-gateway"
    }`;
    const at = odd.indexOf("}} // trailing") + 2;
    assert.equal(text, odd.slice(0, at) + inserted + odd.slice(at));
    assert.equal(textOf(planUninstall(FILE, text, "cmg")), odd, "uninstall gives back the original bytes");
  });

  test("an update changes only the command's string; the user's env (1.50) and spacing stay", () => {
    const before = `{"mcpServers": {"cmg": {"command":"/old",   "env": {"N": 1.50}}, "z": {}}, "big": 9007199254740993}`;
    const edit = planInstall(FILE, before, "cmg", ENTRY);
    assert.equal(edit.action, "update");
    assert.equal(textOf(edit), before.replace('"/old"', '"/opt/cmg/claude-mpm-gateway"'));
  });

  test("args we no longer pass are removed from the entry, nothing else", () => {
    const before = '{\n  "mcpServers": {\n    "cmg": {\n      "command": "/old",\n      "args": ["--x"],\n      "cwd": "/w"\n    }\n  }\n}\n';
    assert.equal(
      textOf(planInstall(FILE, before, "cmg", ENTRY)),
      '{\n  "mcpServers": {\n    "cmg": {\n      "command": "/opt/cmg/claude-mpm-gateway",\n      "cwd": "/w"\n    }\n  }\n}\n',
    );
  });
});

describe("planUninstall", () => {
  test("removes only our entry", () => {
    const before = { x: 1, mcpServers: { a: { command: "a" }, cmg: ENTRY, b: { url: "https://b" } } };
    const edit = planUninstall(FILE, json(before), "cmg");
    assert.equal(edit.action, "remove");
    assert.equal(textOf(edit), json({ x: 1, mcpServers: { a: { command: "a" }, b: { url: "https://b" } } }));
  });

  test("nothing to remove when the file, the key or the entry is missing", () => {
    assert.deepEqual(planUninstall(FILE, undefined, "cmg"), { action: "absent" });
    assert.deepEqual(planUninstall(FILE, "{}", "cmg"), { action: "absent" });
    assert.deepEqual(planUninstall(FILE, json({ mcpServers: { a: {} } }), "cmg"), { action: "absent" });
  });
});

describe("describeEdit", () => {
  test("shows the new entry with +, the old with -", () => {
    const add = planInstall(FILE, undefined, "cmg", ENTRY);
    assert.deepEqual(describeEdit("cmg", add), ['  + "cmg": {', '  +   "command": "/opt/cmg/claude-mpm-gateway"', "  + }"]);
    const update = planInstall(FILE, json({ mcpServers: { cmg: { command: "/old" } } }), "cmg", ENTRY);
    assert.deepEqual(describeEdit("cmg", update), [
      '  - "cmg": {',
      '  -   "command": "/old"',
      "  - }",
      '  + "cmg": {',
      '  +   "command": "/opt/cmg/claude-mpm-gateway"',
      "  + }",
    ]);
    assert.deepEqual(describeEdit("cmg", { action: "unchanged", before: ENTRY }), []);
  });
});
