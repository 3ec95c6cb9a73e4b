// The auth commands meet the config file as the user just wrote it: `add` then at once `auth login` must not
// depend on the primary's config watcher having applied the change yet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { statePaths } from "../../src/coordination/paths.js";
import { createDownstream, createRegistry } from "../../src/gateway/services.js";

test("a remote server in config.json that the watcher has not applied yet is known to the auth side; an absent one is a clear error", async () => {
  const home = mkdtempSync(join(tmpdir(), "cmg-services-"));
  try {
    const paths = statePaths({ CLAUDE_MPM_HOME: home });
    mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(paths.configFile, JSON.stringify({ mcpServers: { docs: { url: "http://127.0.0.1:9/mcp" } } }));
    // Not started: nothing of the file is applied, as in the moment after `add` wrote it.
    const downstream = createDownstream(paths, createRegistry("primary", paths));
    assert.equal(downstream.remoteServer("docs"), undefined, "the manager has not applied the file");
    assert.equal(await downstream.oauth.logout("docs"), "nothing was stored");
    await assert.rejects(downstream.oauth.logout("nope"), /no remote server "nope" in the config/);
    writeFileSync(paths.configFile, "{ not json");
    await assert.rejects(downstream.oauth.logout("docs"), /no remote server "docs" in the config/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
