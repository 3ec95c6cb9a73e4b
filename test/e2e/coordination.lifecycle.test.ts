// The primary's life as a connected client lives through it: stop, restart, a crash with a request in
// flight, signals, and a bridge whose client dies without closing its stdin.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connectClient,
  expectNoProcessLeft,
  gatewayEnv,
  installBinary,
  killProcessesOf,
  expectPrimaries,
  isAlive,
  primaries,
  bridges,
  readGatewayJson,
  run,
  servingPid,
  sleep,
  stateFiles,
  statusJson,
  stopGateway,
  tempHome,
  waitFor,
  type Install,
  echoThrough,
} from "./harness.js";
import { RawSession } from "./rawSession.js";

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());
// A failed test must not leave its processes to the next one.
afterEach(() => killProcessesOf(install.bin));

/** The product's default linger (30 s) instead of the harness's short one. */
const LONG_LINGER = { CLAUDE_MPM_GATEWAY_LINGER_MS: "30000" };


describe("stop", () => {
  test("stops the primary, removes its files; a second stop says none runs; the client goes on", async () => {
    const home = tempHome();
    // The default linger: a stopped primary must not wait it out because a client was connected.
    const { client } = await connectClient(install, home, [], LONG_LINGER);
    await echoThrough(client, "before");
    const pid = servingPid(install, home);

    const r = run(install, home, ["stop"]);
    assert.deepEqual(r, { status: 0, stdout: `claude-mpm-gateway stopped (pid ${pid})\n`, stderr: "" });
    await waitFor("the stopped primary's process to end", () => !isAlive(pid!), 10_000);
    assert.equal(existsSync(stateFiles(home).json), false);
    assert.equal(existsSync(stateFiles(home).token), false);

    const again = run(install, home, ["stop"]);
    assert.deepEqual(again, { status: 3, stdout: "claude-mpm-gateway is not running\n", stderr: "" });

    // The same Client object: its bridge starts a new primary and replays the handshake.
    await echoThrough(client, "after stop");
    const { code, json } = statusJson(install, home);
    assert.equal(code, 0);
    assert.notEqual(json.pid, pid);
    assert.equal(json.sessions, 1);

    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("restart", () => {
  test("replaces the primary; the connected client's next call succeeds without reconnecting", async () => {
    const home = tempHome();
    const { client, transport } = await connectClient(install, home, [], LONG_LINGER);
    await echoThrough(client, "before");
    const bridgePid = transport.pid;
    const old = servingPid(install, home);

    const r = run(install, home, ["restart"]);
    assert.equal(r.status, 0, r.stderr);
    const m = /^claude-mpm-gateway restarted \(pid (\d+) -> (\d+)\)\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(Number(m[1]), old);
    const fresh = Number(m[2]);
    assert.notEqual(fresh, old);
    await waitFor("the old primary's process to end", () => !isAlive(old!), 10_000);
    await expectPrimaries(install.bin, [fresh]);

    await echoThrough(client, "after restart");
    const { tools } = await client.listTools();
    assert.equal(tools.length, 5);
    // The same bridge process, now a session of the new primary: no third primary was started.
    assert.equal(transport.pid, bridgePid);
    assert.equal(isAlive(bridgePid!), true);
    const { json } = statusJson(install, home);
    assert.equal(json.pid, fresh);
    assert.equal(json.sessions, 1);

    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("with none running, restart starts one", async () => {
    const home = tempHome();
    // No client connects: with the harness's short linger the primary leaves 5 s after its start (its start-up
    // grace), which a loaded machine outlasted between restart's answer and status's (status said none runs).
    const r = run(install, home, ["restart"], LONG_LINGER);
    assert.equal(r.status, 0, r.stderr);
    const m = /^claude-mpm-gateway started \(pid (\d+)\)\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(statusJson(install, home).json.pid, Number(m[1]));
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("primary death with a request in flight", () => {
  test("the client gets one -32603 error for it, and the next request succeeds", async (t) => {
    const home = tempHome();
    const s = new RawSession(install, home);
    await s.initialize();
    const list = await s.request(1, "tools/list");
    assert.ok(list.result);
    const pid = servingPid(install, home);

    // Frozen, the primary cannot answer: the call is surely pending when it dies.
    process.kill(pid, "SIGSTOP");
    s.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { message: "lost" } } });
    await sleep(200);
    assert.equal(s.unread, 0, "no answer from a frozen primary");
    const t0 = Date.now();
    process.kill(pid, "SIGKILL");
    // Bounded, not timed: a request lost with its primary would never be answered.
    const err = await s.next(10_000);
    t.diagnostic(`error ${Date.now() - t0} ms after the kill`);
    assert.equal(err.id, 2);
    assert.equal((err.error as { code: number }).code, -32603);

    const ok = await s.request(3, "tools/call", { name: "echo", arguments: { message: "next" } });
    assert.deepEqual((ok.result as { content: unknown }).content, [{ type: "text", text: "next" }]);
    await sleep(300);
    assert.equal(s.unread, 0, "nothing more for id 2, nor the replay's answer");
    const { json } = statusJson(install, home);
    assert.notEqual(json.pid, pid);

    s.end();
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("signals", () => {
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    test(`${signal} to the primary: clean shutdown, nothing stale left`, async () => {
      const home = tempHome();
      const { client } = await connectClient(install, home, [], LONG_LINGER);
      await echoThrough(client, "x");
      const pid = servingPid(install, home);
      process.kill(pid, signal);
      // Promptly, not after the 30 s linger.
      await waitFor("the primary to exit", () => !isAlive(pid!), 5000);
      assert.equal(existsSync(stateFiles(home).json), false, "gateway.json removed");
      assert.equal(existsSync(stateFiles(home).token), false, "gateway.token removed");
      const { code, json } = statusJson(install, home);
      assert.equal(code, 3);
      // A clean shutdown leaves nothing for status to clean.
      assert.deepEqual(json.cleaned, []);
      await client.close();
      await expectNoProcessLeft(install.bin);
    });
  }
});

describe("bridge", () => {
  test("exits when its parent dies, even with its stdin still open", async (t) => {
    const home = tempHome();
    const dir = mkdtempSync(join(tmpdir(), "cmg-parent-"));
    // The bridge's stdin is a FIFO this test holds open for writing, so no EOF can come from anywhere; its
    // stdout is a file. The client is a shell that runs the bridge as a child (no exec) and is then killed.
    const fifo = join(dir, "stdin");
    const outFile = join(dir, "stdout");
    execFileSync("mkfifo", [fifo]);
    const writer = openSync(fifo, constants.O_RDWR);
    try {
      const parent = spawn("/bin/sh", ["-c", '"$0" < "$1" > "$2"; echo parent-done', install.bin, fifo, outFile], {
        env: gatewayEnv(install, home),
        stdio: "ignore",
      });
      writeSync(writer, JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "sh", version: "1" } } }) + "\n");
      await waitFor("the initialize answer", () => existsSync(outFile) && readFileSync(outFile, "utf8").includes('"id":0'), 30_000);
      const found = bridges(install.bin);
      assert.equal(found.length, 1);
      const bridge = found[0]!;

      parent.kill("SIGKILL");
      const t0 = Date.now();
      // Bounded, not timed (it checks its parent every second): without the check it would run on for good.
      await waitFor("the bridge to exit", () => !isAlive(bridge), 10_000);
      t.diagnostic(`bridge exited ${Date.now() - t0} ms after its parent`);
      // With its only session gone, the primary lingers and leaves too.
      await expectNoProcessLeft(install.bin);
      assert.equal(readGatewayJson(home), undefined);
    } finally {
      closeSync(writer);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("requests piped in with EOF are answered before it exits, as --standalone does (cold and warm)", async () => {
    const home = tempHome();
    const piped = [
      { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "pipe", version: "1" } } },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { message: "piped" } } },
    ]
      .map((m) => JSON.stringify(m) + "\n")
      .join("");
    for (const [mode, args] of [["cold", []], ["warm", []], ["standalone", ["--standalone"]]] as const) {
      // `printf '...' | claude-mpm-gateway`: everything written at once, then EOF.
      const r = spawnSync(install.bin, args, { input: piped, env: gatewayEnv(install, home), encoding: "utf8", timeout: 20_000 });
      assert.equal(r.status, 0, `${mode}: ${r.stderr}`);
      const answers = r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { id: number; result?: { content?: unknown } });
      assert.deepEqual(answers.map((a) => a.id), [0, 1], `${mode}: ${r.stdout}`);
      assert.deepEqual(answers[1]!.result?.content, [{ type: "text", text: "piped" }], mode);
    }
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("exits with 0 once its stdin closes, and the primary then lingers out", async (t) => {
    const home = tempHome();
    const s = new RawSession(install, home);
    await s.initialize();
    const t0 = Date.now();
    s.end();
    // Bounded, not timed: how long an exit takes under load is the machine's.
    assert.deepEqual(await s.exitedWithin(10_000), { code: 0, signal: null });
    t.diagnostic(`exited ${Date.now() - t0} ms after EOF`);
    await waitFor("the primary to linger out", () => primaries(install.bin).length === 0, 10_000);
    assert.equal(run(install, home, ["status"]).status, 3);
    await expectNoProcessLeft(install.bin);
  });
});
