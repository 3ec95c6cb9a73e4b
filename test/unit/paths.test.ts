// Which state dir serves a config: the default one for the default config (however it is named), a
// sub-dir of its own for any other, the same one for every path to one file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { statePaths } from "../../src/coordination/paths.js";

test("a non-default config gets its own state dir; the default config and every path to one file share one", () => {
  const home = mkdtempSync(join(tmpdir(), "cmg-paths-"));
  mkdirSync(join(home, "mcp"));
  writeFileSync(join(home, "mcp", "config.json"), "{}");
  const env = { CLAUDE_MPM_HOME: home };
  const main = statePaths(env);
  assert.equal(main.stateDir, join(home, "mcp"));
  assert.equal(main.ownConfig, undefined);
  assert.equal(statePaths(env, join(home, "mcp", "config.json")).stateDir, main.stateDir, "the default config named explicitly");

  const other = join(home, "other.json");
  writeFileSync(other, "{}");
  const own = statePaths(env, other);
  assert.match(own.stateDir, new RegExp(`^${join(home, "mcp", "configs")}/[0-9a-f]{16}$`));
  assert.equal(own.configFile, other);
  assert.equal(own.ownConfig, other);
  assert.equal(own.lockFile, join(own.stateDir, "gateway.lock"));
  assert.equal(own.logFile, join(own.stateDir, "logs", "gateway.log"));

  symlinkSync(other, join(home, "link.json"));
  assert.equal(statePaths(env, join(home, "link.json")).stateDir, own.stateDir, "a symlink to it: the same primary");
  assert.equal(statePaths({ ...env, CLAUDE_MPM_GATEWAY_CONFIG: other }).stateDir, own.stateDir, "the environment variable: the same");
  assert.notEqual(statePaths(env, join(home, "third.json")).stateDir, own.stateDir, "a file not created yet: its own");
});
