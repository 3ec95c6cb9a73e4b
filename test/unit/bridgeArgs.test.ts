// The front recognises a plain client launch and leaves every other command line to the full parser (cac).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { bridgeLaunch } from "../../src/cli/bridgeArgs.js";

const env = { CLAUDE_MPM_HOME: "/h" };

test("a client launch: no arguments, or the bridge's own options with valid values", () => {
  assert.deepEqual(bridgeLaunch([], env), { paths: bridgeLaunch([], env)!.paths, session: {} });
  assert.equal(bridgeLaunch([], env)!.paths.stateDir, join("/h", "mcp"));
  const l = bridgeLaunch(["--profile", "coding", "--max-name-length=60", "--log-level", "debug", "--config", "/c/servers.json"], env)!;
  assert.deepEqual(l.session, { profile: "coding", maxNameLength: 60 });
  assert.equal(l.level, "debug");
  assert.equal(l.paths.configFile, resolve("/c/servers.json"));
  assert.equal(bridgeLaunch([], { ...env, CLAUDE_MPM_LOG_LEVEL: "info" })!.level, "info");
});

test("anything else goes to the full parser, mistakes included (it has the error messages)", () => {
  for (const argv of [
    ["--standalone"], ["--primary"], ["--watchdog"], ["--status"], ["--version"], ["-v"], ["--help"], ["status"], ["tools"], ["serve", "--http", "1"],
    ["--profile"], ["--profile", "--standalone"], ["--profile", "a", "--profile", "b"], ["--max-name-length", "5"], ["--max-name-length", "x"],
    ["--log-level", "loud"], ["--profile="], ["--unknown", "x"], ["x"],
  ]) {
    assert.equal(bridgeLaunch(argv, env), undefined, JSON.stringify(argv));
  }
  assert.equal(bridgeLaunch([], { ...env, CLAUDE_MPM_LOG_LEVEL: "loud" }), undefined, "a bad level in the environment: cac's error");
});
