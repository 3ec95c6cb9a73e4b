// Handover (issue 14): `restart` hands the running downstream servers and every client's session to the
// next primary. Same server processes (pids, in-memory state), same client sessions, calls across it answered.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import type { Client } from "@modelcontextprotocol/client";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectClient, echoThrough, expectNoProcessLeft, expectPrimaries, gatewayEnv, installBinary, isAlive, primaries, processesOf, readGatewayJson, run, listenersOf, runAsync, sleep, socketFiles, stateFiles, stopGateway, tempHome, waitFor, type Install } from "./harness.js";
import { downstreamStatus, SERVERS, textOf, writeConfig } from "./downstreamKit.js";

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

const pidOf = (home: string) => Number(readGatewayJson(home)?.pid);

describe("restart hands over", () => {
  test("server-memory and an in-memory counter keep their process and state; the same session reads them back", async () => {
    const home = tempHome();
    const files = mkdtempSync(join(tmpdir(), "cmg-memory-"));
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, {
      memory: { ...SERVERS.memory(), env: { MEMORY_FILE_PATH: join(files, "memory.jsonl") }, startTimeoutMs: 60_000 },
      flaky: SERVERS.flaky(state),
    });
    const { client } = await connectClient(install, home);
    const created = await client.callTool({ name: "memory__create_entities", arguments: { entities: [{ name: "handover", entityType: "test", observations: ["kept across restart"] }] } });
    assert.equal(created.isError, undefined, textOf(created));
    assert.equal(textOf(await client.callTool({ name: "flaky__count", arguments: {} })), "1");
    assert.equal(textOf(await client.callTool({ name: "flaky__count", arguments: {} })), "2");
    const before = Object.fromEntries(downstreamStatus(install, home).map((d) => [d.name, d.pid]));
    const oldPrimary = pidOf(home);

    const r = run(install, home, ["restart"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^claude-mpm-gateway restarted \\(pid ${oldPrimary} -> (\\d+)\\); servers kept running: (memory, flaky|flaky, memory)\\n$`));
    assert.notEqual(pidOf(home), oldPrimary);
    // restart waits (bounded) for the old primary to be gone, and says "restarted" either way: bounded here too.
    await expectPrimaries(install.bin, [pidOf(home)]);

    // The same session, no reconnect by the client: the counter goes on (a new process would say 1).
    assert.equal(textOf(await client.callTool({ name: "flaky__count", arguments: {} })), "3");
    const read = await client.callTool({ name: "memory__open_nodes", arguments: { names: ["handover"] } });
    assert.match(textOf(read), /kept across restart/);
    const afterwards = Object.fromEntries(downstreamStatus(install, home).map((d) => [d.name, d.pid]));
    assert.deepEqual(afterwards, before, "the same server processes");
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("no call lost", () => {
  test("calls in a loop from three clients across two restarts: none fails, all reach the same server process", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { flaky: SERVERS.flaky(state) });
    const clients = await Promise.all([0, 1, 2].map(() => connectClient(install, home).then((c) => c.client)));
    const server = textOf(await clients[0]!.callTool({ name: "flaky__pid", arguments: {} }));
    let done = false;
    const seen: string[] = [];
    const loops = clients.map(async (client) => {
      while (!done) {
        try {
          const r = await client.callTool({ name: "flaky__pid", arguments: {} });
          seen.push(r.isError ? `tool error: ${textOf(r)}` : textOf(r));
        } catch (err) {
          seen.push(`rpc error: ${(err as Error).message}`);
        }
      }
    });
    const primariesSeen = [pidOf(home)];
    for (let round = 0; round < 2; round++) {
      await sleep(500);
      // Not spawnSync: the clients' loops must go on while it runs.
      const r = await runAsync(install, home, ["restart"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /servers kept running: flaky/);
      primariesSeen.push(pidOf(home));
    }
    await sleep(500);
    done = true;
    await Promise.all(loops);
    assert.equal(new Set(primariesSeen).size, 3, "two handovers happened");
    assert.ok(seen.length > 30, `calls made: ${seen.length}`);
    // Every bridge moved its session: what was in flight finished on the old primary, the rest waited.
    assert.deepEqual(seen.filter((s) => s !== server), [], "every call answered by the one server process");
    for (const c of clients) await c.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("a call in flight when restart comes finishes on the old primary", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { flaky: SERVERS.flaky(state) });
    const { client } = await connectClient(install, home);
    const server = textOf(await client.callTool({ name: "flaky__pid", arguments: {} }));
    const slow = client.callTool({ name: "flaky__slow", arguments: { ms: 1500 } });
    await sleep(200);
    const restart = runAsync(install, home, ["restart"]);
    const answer = await slow;
    assert.equal(textOf(answer), `slept 1500 ms in ${server}`);
    assert.equal((await restart).status, 0);
    assert.equal(textOf(await client.callTool({ name: "flaky__pid", arguments: {} })), server);
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

/** Pids of live processes whose environment holds `marker` (a fixture server and its children). */
function markedProcesses(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

describe("kill -9 during the handover", () => {
  for (const victim of ["old", "new"] as const) {
    test(`of the ${victim} primary: one primary results, no server is left without one`, async () => {
      const home = tempHome();
      const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
      writeConfig(home, { flaky: SERVERS.flaky(state) });
      const marker = `FLAKY_STATE=${state}`;
      const { client } = await connectClient(install, home);
      const first = Number(textOf(await client.callTool({ name: "flaky__pid", arguments: {} })));
      const old = pidOf(home);
      // A call in flight keeps the handover in its drain (up to 5 s): the moment to kill one of the two.
      const slow = client.callTool({ name: "flaky__slow", arguments: { ms: 4000 } }).catch((err: Error) => err);
      await sleep(200);
      const restart = runAsync(install, home, ["restart"]);
      let next = 0;
      await waitFor("the next primary to start", () => (next = primaries(install.bin).find((p) => p !== old) ?? 0) > 0, 15_000);
      await sleep(300);
      process.kill(victim === "old" ? old : next, "SIGKILL");
      const r = await restart;
      // The call in flight is answered once: its result from the one server, or one error (tool or RPC).
      const inFlight = await slow;
      if (!(inFlight instanceof Error)) assert.ok(inFlight.isError === true || textOf(inFlight) === `slept 4000 ms in ${first}`, textOf(inFlight));
      // The session goes on, served by one primary, whose server is the only one running.
      const now = Number(textOf(await client.callTool({ name: "flaky__pid", arguments: {} })));
      await waitFor("one primary", () => primaries(install.bin).length === 1, 15_000);
      const [primary] = primaries(install.bin);
      assert.equal(pidOf(home), primary);
      if (victim === "new") {
        assert.equal(r.status, 1, r.stdout);
        assert.match(r.stderr, /restart failed, the running primary \(pid \d+\) goes on/);
        assert.equal(primary, old, "the old primary goes on");
        assert.equal(now, first, "with the same server");
      } else {
        assert.equal(r.status, 0, r.stderr);
        assert.notEqual(primary, old);
      }
      await waitFor("only the serving primary's server left", () => JSON.stringify(markedProcesses(marker)) === JSON.stringify([now]), 10_000);
      await client.close();
      stopGateway(install, home);
      await expectNoProcessLeft(install.bin);
      await waitFor("no server left", () => markedProcesses(marker).length === 0, 10_000);
    });
  }
});

describe("kill -9 after the lock has moved", () => {
  // The next primary is frozen (SIGSTOP) the moment it holds the lock's socket, so the old one waits for
  // its "adopted" with the servers' pipes sent: the one moment two primaries both hold the lock.
  for (const victim of ["old", "new"] as const) {
    test(`of the ${victim} primary: one primary results, no server is left without one`, async () => {
      const home = tempHome();
      const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
      writeConfig(home, { flaky: SERVERS.flaky(state) });
      const marker = `FLAKY_STATE=${state}`;
      const { client } = await connectClient(install, home);
      Number(textOf(await client.callTool({ name: "flaky__pid", arguments: {} })));
      const old = pidOf(home);
      const lock = socketFiles(home).lock;
      const restart = runAsync(install, home, ["restart"]);
      let next = 0;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        // The next primary once it runs as one (`--handover`): the old one's child between fork and exec has its
        // command line and still holds the lock's socket until exec drops it, which passed this check once.
        next = processesOf(install.bin).find((p) => p.pid !== old && p.args.includes("--handover"))?.pid ?? 0;
        if (next && listenersOf(lock, [next]).length) break;
        await sleep(1);
      }
      assert.ok(next && listenersOf(lock, [next]).length, "the next primary came to hold the lock");
      process.kill(next, "SIGSTOP");
      process.kill(victim === "old" ? old : next, "SIGKILL");
      if (victim === "old") process.kill(next, "SIGCONT");
      const r = await restart;
      if (victim === "new") {
        // The old primary stops past the point of no return: restart starts a fresh one and says so.
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /the handover failed after the old primary let go .*: servers started afresh\n$/);
      }
      // The session goes on with whichever primary serves, started afresh by the client if none does.
      const now = Number(textOf(await client.callTool({ name: "flaky__pid", arguments: {} })));
      await waitFor("one primary", () => primaries(install.bin).length === 1, 15_000);
      const [primary] = primaries(install.bin);
      assert.equal(pidOf(home), primary);
      assert.notEqual(primary, victim === "old" ? old : next);
      await waitFor("only the serving primary's server left", () => JSON.stringify(markedProcesses(marker)) === JSON.stringify([now]), 15_000);
      await client.close();
      stopGateway(install, home);
      await expectNoProcessLeft(install.bin);
      await waitFor("no server left", () => markedProcesses(marker).length === 0, 10_000);
    });
  }
});

describe("the requester gone before the answer", () => {
  test("restart killed mid-handover: the old primary still exits, leaving the next one its token and socket", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { flaky: SERVERS.flaky(state) });
    const { client } = await connectClient(install, home);
    const server = textOf(await client.callTool({ name: "flaky__pid", arguments: {} }));
    const old = pidOf(home);
    const token = readFileSync(stateFiles(home).token, "utf8");
    // A call in flight holds the handover in its drain: the moment the requester goes (Ctrl-C on `restart`).
    const slow = client.callTool({ name: "flaky__slow", arguments: { ms: 3000 } }).catch((err: Error) => err);
    await sleep(200);
    const restart = spawn(install.bin, ["restart"], { env: gatewayEnv(install, home), stdio: "ignore" });
    const ended = new Promise((r) => restart.once("exit", r));
    let next = 0;
    try {
      await waitFor("the next primary to start", () => (next = primaries(install.bin).find((p) => p !== old) ?? 0) > 0, 20_000);
    } finally {
      restart.kill("SIGKILL");
      await ended;
    }
    await slow;
    await waitFor("the old primary to exit", () => !isAlive(old), 30_000);
    assert.deepEqual(primaries(install.bin), [next]);
    assert.equal(pidOf(home), next);
    assert.equal(readFileSync(stateFiles(home).token, "utf8"), token, "the shared token is left in place");
    assert.ok(existsSync(socketFiles(home).lock), "the lock's socket file is left in place");
    assert.equal(textOf(await client.callTool({ name: "flaky__pid", arguments: {} })), server, "the same server, through the next primary");
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("config.json invalid at the handover", () => {
  test("the servers handed over keep running under the next primary, as restart says", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { flaky: SERVERS.flaky(state) });
    const { client } = await connectClient(install, home);
    const server = textOf(await client.callTool({ name: "flaky__pid", arguments: {} }));
    assert.equal(textOf(await client.callTool({ name: "flaky__count", arguments: {} })), "1");
    const old = pidOf(home);
    writeConfig(home, "{ not json");
    const r = run(install, home, ["restart"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /servers kept running: flaky\n$/);
    assert.notEqual(pidOf(home), old);
    // The same process, its state kept (a fresh one would say 1; a stopped one, no tool at all).
    assert.equal(textOf(await client.callTool({ name: "flaky__count", arguments: {} })), "2");
    assert.equal(textOf(await client.callTool({ name: "flaky__pid", arguments: {} })), server);
    assert.deepEqual(downstreamStatus(install, home).map((d) => d.pid), [Number(server)]);
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

/**
 * A program for `restart --exec` that answers --version at once but, started as the next primary, says so
 * (`started`) and waits for the test to create its gate before it runs the real binary: a handover held in
 * its start for as long as the test wants. Absolute paths: the gateway runs with only the install dir on PATH.
 */
function gatedProgram(install: Install): { program: string; started: () => boolean; open: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "cmg-gated-"));
  const gate = join(dir, "go");
  const started = join(dir, "started");
  const program = join(dir, "gated-gateway");
  writeFileSync(
    program,
    `#!/bin/sh\ncase " $* " in *" --primary "*) : > '${started}'; while [ ! -e '${gate}' ]; do /bin/sleep 0.05; done;; esac\nexec '${install.bin}' "$@"\n`,
    { mode: 0o755 },
  );
  return { program, started: () => existsSync(started), open: () => writeFileSync(gate, "") };
}

describe("restart not answered in time", () => {
  test("the old primary still runs: restart says so (exit 4), not that it went away", async () => {
    const home = tempHome();
    const { client } = await connectClient(install, home);
    const old = pidOf(home);
    const gated = gatedProgram(install);
    try {
      const r = await runAsync(install, home, ["restart", "--exec", gated.program], { CLAUDE_MPM_GATEWAY_RESTART_TIMEOUT_MS: "1500" });
      assert.equal(r.status, 4, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /went away|restarted/);
      assert.match(r.stderr, new RegExp(`restart: the primary \\(pid ${old}\\) gave no answer within 1\\.5 s and still runs: the handover may still be under way`));
      assert.ok(isAlive(old), "as it said, the old primary runs");
    } finally {
      gated.open();
    }
    // Whichever way the handover ends, one primary serves the same session afterwards.
    await waitFor("one primary", () => primaries(install.bin).length === 1 && pidOf(home) === primaries(install.bin)[0], 30_000);
    await echoThrough(client, "after the unanswered restart");
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("a handover whose next primary is slow to start", () => {
  test("the old primary serves meanwhile (status, a new client), and a client that gives up is not passed on", async () => {
    const home = tempHome();
    const { client } = await connectClient(install, home);
    const old = pidOf(home);
    const gated = gatedProgram(install);
    const restart = runAsync(install, home, ["restart", "--exec", gated.program]);
    let newcomer: Client | undefined;
    try {
      await waitFor("the next primary to be started (and held at its start)", gated.started, 20_000);
      // The handover is under way, waiting for the next primary's hello: this one still answers.
      const status = run(install, home, ["status", "--json"]);
      assert.equal(status.status, 0, status.stdout + status.stderr);
      assert.equal(JSON.parse(status.stdout).pid, old);
      newcomer = (await connectClient(install, home)).client;
      await echoThrough(newcomer, "served during the handover's start");
      // A client that connects, sends a line and gives up at once: its line names it in the log of whoever read it.
      const probe = connect(socketFiles(home).endpoint);
      await new Promise<void>((resolve, reject) => probe.once("connect", resolve).once("error", reject));
      probe.end("{}\n");
      await waitFor("the old primary to read the probe", () => probesRead(home, old) > 0, 10_000);
    } finally {
      gated.open();
    }
    const r = await restart;
    assert.equal(r.status, 0, r.stderr);
    const next = pidOf(home);
    assert.match(r.stdout, new RegExp(`restarted \\(pid ${old} -> ${next}\\)`));
    assert.equal(probesRead(home, next), 0, "no connection made before the drain was passed on to the next primary");
    await echoThrough(client, "after the slow handover");
    await echoThrough(newcomer!, "the newcomer moved too");
    await newcomer!.close();
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

/** Whether the primary `pid` logged a probe's line ("{}": not a gateway hello) among the connections it refused. */
function probesRead(home: string, pid: number): number {
  const log = readFileSync(stateFiles(home).log, "utf8");
  return log.split("\n").filter((l) => l.includes(`:${pid}] `) && l.includes("not a gateway hello")).length;
}
