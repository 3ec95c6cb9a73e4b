// scripts/smoke.mjs is what the release workflow trusts on each runner: it must pass the real binary and
// fail an impostor.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expectNoProcessLeft, installBinary, type Install } from "./harness.js";

const VERSION = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
const smoke = (bin: string) => spawnSync(process.execPath, ["scripts/smoke.mjs", bin], { encoding: "utf8", timeout: 120_000 });

describe("scripts/smoke.mjs", { skip: process.platform !== "linux" ? "the e2e harness is Linux-only" : false }, () => {
  let install: Install;
  before(() => {
    install = installBinary();
  });
  after(() => install.cleanup());

  test("passes the built binary, through every step, and leaves no process", async () => {
    const r = smoke(install.bin);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const step of [`--version: ${VERSION}`, "--status with no gateway: exit 3", "bridge: initialize", "standalone: initialize", "stop; --status: exit 3"]) {
      assert.ok(r.stdout.includes(`smoke: ${step}`), step);
    }
    assert.match(r.stdout, /passed\n$/);
    await expectNoProcessLeft(install.bin);
  });

  test("fails a binary that only knows its version", () => {
    const fake = join(install.dir, "impostor");
    writeFileSync(fake, `#!/bin/sh\necho ${VERSION}\n`);
    chmodSync(fake, 0o755);
    const r = smoke(fake);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /smoke: FAILED: --status: exit 0 \(expected 3\)/);
  });
});
