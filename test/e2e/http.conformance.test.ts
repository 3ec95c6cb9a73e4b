// The official MCP conformance suite's server scenarios against the binary's real HTTP endpoint
// (`serve --http` on loopback, no token: the suite sends none), through scripts/conformance.mjs.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { expectNoProcessLeft, gatewayEnv, installBinary, tempHome, waitFor, type Install } from "./harness.js";

let install: Install;
before(() => (install = installBinary()));
after(() => install.cleanup());

test("conformance: every transport scenario passes on serve --http (baselined checks aside)", async () => {
  const home = tempHome();
  const child = spawn(install.bin, ["serve", "--http", "127.0.0.1:0"], { env: gatewayEnv(install, home) });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const exited = new Promise((r) => child.on("close", r));
  try {
    let url = "";
    await waitFor("serve --http to listen", () => (url = /at (http:\S+)/.exec(stderr)?.[1] ?? "") !== "", 30_000);
    // spawnSync would block this process's event loop: fine, the server under test is another process.
    const r = spawnSync(process.execPath, ["scripts/conformance.mjs", "--url", url, "--expected-failures", "test/conformance/http-baseline.yml"], {
      encoding: "utf8",
      timeout: 600_000,
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^conformance: 9 passed, 0 failed$/m);
    for (const s of ["server-initialize", "server-session-lifecycle", "server-stateless", "dns-rebinding-protection", "http-header-validation"]) {
      assert.match(r.stdout, new RegExp(`^pass ${s} `, "m"));
    }
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
  await expectNoProcessLeft(install.bin);
});
