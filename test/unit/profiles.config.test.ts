import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/downstream/config.js";
import { isGatewayError } from "../../src/errors.js";

const FILE = "/home/u/.claude-mpm/mcp/config.json";

function problem(profiles: unknown): string {
  try {
    parseConfig({ mcpServers: {}, profiles }, FILE);
  } catch (err) {
    assert.ok(isGatewayError(err, "CONFIG_INVALID"), String(err));
    return err.message;
  }
  assert.fail("expected CONFIG_INVALID");
}

describe("profiles in config.json", () => {
  test("the issue's example parses, with defaults filled in", () => {
    const config = parseConfig(
      {
        mcpServers: {},
        profiles: {
          coding: { tools: ["memory__*", "everything__echo", "calculator"], exclude: ["*__delete_*"] },
          lean: { search: true, descriptions: { everything__echo: "Echo text." } },
        },
      },
      FILE,
    );
    assert.deepEqual(config.profiles.coding, {
      name: "coding",
      tools: ["memory__*", "everything__echo", "calculator"],
      exclude: ["*__delete_*"],
      search: false,
      descriptions: {},
    });
    assert.deepEqual(config.profiles.lean, { name: "lean", exclude: [], search: true, descriptions: { everything__echo: "Echo text." } });
  });

  test("no profiles key means no profiles", () => {
    assert.deepEqual(parseConfig({ mcpServers: {} }, FILE).profiles, {});
  });

  test("each mistake names the file, the JSON path and the problem", () => {
    assert.equal(problem([]), `${FILE}: $.profiles: must be an object of profile name → profile`);
    assert.equal(problem({ coding: { tool: ["x"] } }), `${FILE}: $.profiles.coding.tool: unknown key; a profile has tools, exclude, prompts, resources, search, descriptions`);
    assert.equal(problem({ coding: { tools: "memory__*" } }), `${FILE}: $.profiles.coding.tools: must be an array of glob patterns (strings; * and ? are wildcards)`);
    assert.equal(
      problem({ coding: { tools: ["ok", "memory/*"] } }),
      `${FILE}: $.profiles.coding.tools[1]: "memory/*" can never match: exported names hold only letters, digits, _ and - (with * and ? as wildcards)`,
    );
    assert.equal(problem({ lean: { search: "yes" } }), `${FILE}: $.profiles.lean.search: must be true or false`);
    assert.equal(problem({ lean: { descriptions: { everything__echo: " " } } }), `${FILE}: $.profiles.lean.descriptions.everything__echo: must be a non-empty string`);
    assert.equal(problem({ "my profile": {} }), `${FILE}: $.profiles["my profile"]: a profile name must match ^[A-Za-z0-9_.-]{1,64}$`);
    assert.equal(problem({ p: 3 }), `${FILE}: $.profiles.p: must be an object`);
  });

  test("resource patterns are URI globs: any characters", () => {
    const config = parseConfig({ profiles: { docs: { resources: ["file:///docs/*", "demo://resource/static/?"] } } }, FILE);
    assert.deepEqual(config.profiles.docs!.resources, ["file:///docs/*", "demo://resource/static/?"]);
  });
});
