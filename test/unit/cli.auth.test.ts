// `auth login|logout <server>` find the server as config.json names it: a name the file does not hold is "no
// server", whatever the name, even one every plain object answers to (toString, constructor, __proto__).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loginCommand, logoutCommand } from "../../src/cli/auth.js";
import { statePaths } from "../../src/coordination/paths.js";
import { isGatewayError } from "../../src/errors.js";

test("a name config.json does not hold is refused as absent, not as a local server", async () => {
  const home = mkdtempSync(join(tmpdir(), "cmg-cli-auth-"));
  try {
    const paths = statePaths({ CLAUDE_MPM_HOME: home });
    mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    // "__proto__" is in the text, but no parse of it keeps a server by that name (`list` shows none either).
    writeFileSync(paths.configFile, '{ "mcpServers": { "docs": { "url": "http://127.0.0.1:9/mcp" }, "__proto__": { "url": "http://127.0.0.1:9/mcp" } } }');
    for (const name of ["toString", "constructor", "hasOwnProperty", "__proto__"]) {
      for (const command of [loginCommand, logoutCommand]) {
        await assert.rejects(command(paths, name), (err: unknown) => {
          assert.ok(isGatewayError(err, "USAGE"), String(err));
          assert.equal((err as Error).message, `no server "${name}" in ${paths.configFile}`);
          return true;
        });
      }
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
