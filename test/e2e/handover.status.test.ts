// `status` during a handover's drain (`restart`): its own file, so handover.test.ts stays well inside the
// runner's per-file time limit on a loaded machine.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectClient, echoThrough, expectNoProcessLeft, installBinary, readGatewayJson, runAsync, stateFiles, stopGateway, tempHome, waitFor, type Install } from "./harness.js";
import { SERVERS, writeConfig } from "./downstreamKit.js";

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

const pidOf = (home: string) => Number(readGatewayJson(home)?.pid);

describe("status during a handover's drain", () => {
  test("its connection waits for the next primary; one that does not answer in time is reported as a handover, not as unresponsive", async () => {
    // From the drain on, a new connection is passed to the next primary, which answers it once it holds the lock
    // and serves. A call that never answers keeps the drain open (5 s at most): long enough to stop the next
    // primary before it gets the lock, so `status` meets a handover whose next primary does not answer.
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { flaky: SERVERS.flaky(state) });
    const { client } = await connectClient(install, home);
    const old = pidOf(home);
    const hanging = client.callTool({ name: "flaky__hang", arguments: {} }).catch((err: Error) => err);
    await waitFor("the call to hang at the server", () => existsSync(join(state, "hanging")), 20_000);
    const restart = runAsync(install, home, ["restart"]);
    let next = 0;
    try {
      await waitFor("the drain to begin", () => (next = drainingTo(home, old)) > 0, 20_000);
      process.kill(next, "SIGSTOP");
      assert.equal(pidOf(home), old, "stopped before it took the lock (it records itself first)");
      // Both at once, with a short wait: the old primary gives the next one 15 s to adopt its servers (ADOPT_MS)
      // from the drain's end, and the next one is stopped only for as long as these take.
      const wait = { CLAUDE_MPM_GATEWAY_STATUS_HANDOVER_WAIT_MS: "2000" };
      const [text, json] = await Promise.all([runAsync(install, home, ["status"], wait), runAsync(install, home, ["status", "--json"], wait)]);
      assert.equal(text.status, 4, text.stdout + text.stderr);
      assert.match(text.stdout, new RegExp(`^◐ claude-mpm-gateway - handing over \\(pid ${old} -> ${next}\\)`));
      assert.doesNotMatch(text.stdout, /kill|not answering/);
      assert.equal(json.status, 4, json.stdout + json.stderr);
      assert.deepEqual(pick(JSON.parse(json.stdout), ["state", "from", "to"]), { state: "handing-over", from: old, to: next });
    } finally {
      if (next) process.kill(next, "SIGCONT");
    }
    // Once the next primary goes on, a status waits for it and is answered by it.
    const status = await runAsync(install, home, ["status", "--json"]);
    assert.equal(status.status, 0, status.stdout + status.stderr);
    assert.equal(JSON.parse(status.stdout).pid, next);
    const r = await restart;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`restarted \\(pid ${old} -> ${next}\\)`));
    await hanging;
    await echoThrough(client, "after the handover");
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

/** The next primary `old` began to drain towards (its log says so right before the drain), or 0. */
function drainingTo(home: string, old: number): number {
  const m = new RegExp(`\\[primary:${old}\\] primary: handing over to pid (\\d+)`).exec(readFileSync(stateFiles(home).log, "utf8"));
  return m ? Number(m[1]) : 0;
}

const pick = (o: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));
