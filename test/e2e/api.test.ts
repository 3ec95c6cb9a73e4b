// The seed's programmatic API against the real binary: running is decided by the lock and a ping, a second
// start reuses the running gateway, stop stops it, and stale files are cleaned.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { MCPGatewayManager } from "../../src/api.js";
import { connectClient, expectNoProcessLeft, installBinary, stateFiles, tempHome, type Install } from "./harness.js";

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

test("isRunning / start / getStatus / stop, with a stale gateway.json naming this very process", async () => {
  const home = tempHome();
  mkdirSync(join(home, "mcp"), { recursive: true });
  // The seed's liveness check would believe this: the pid is alive (it is ours).
  writeFileSync(stateFiles(home).json, JSON.stringify({ pid: process.pid, instance_id: "old", gateway_name: "x" }));
  const manager = new MCPGatewayManager({ home, executable: install.bin });
  assert.equal(await manager.isRunning(), false);
  assert.equal(existsSync(stateFiles(home).json), false, "the stale file was cleaned");

  assert.equal(await manager.start(), true);
  const status = await manager.getStatus();
  assert.ok(status);
  assert.equal(status.gateway_name, "claude-mpm-gateway");
  assert.notEqual(status.pid, process.pid);

  // A second start reuses the running gateway; a client is served by that same primary.
  assert.equal(await manager.start(), true);
  assert.equal((await manager.getStatus())?.pid, status.pid);
  const { client } = await connectClient(install, home);
  assert.equal((await manager.getStatus())?.sessions, 1);
  await client.close();

  assert.equal(await manager.stop(), true);
  assert.equal(await manager.isRunning(), false);
  assert.equal(await manager.stop(), false);
  await expectNoProcessLeft(install.bin);
});
