// `status` as a user and a script meet it, stale files in every form, and the endpoint's door: the lock
// decides what is live, never the pid in gateway.json, and no connection gets in without the token.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { acceptHello, proofFor, sendHello } from "../../src/coordination/handshake.js";
import { bootId, pidNamespace, processStartTime } from "../../src/coordination/instanceFile.js";
import { hostname } from "node:os";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import {
  socketFiles,
  connectClient,
  expectNoProcessLeft,
  expectPrimaries,
  installBinary,
  killProcessesOf,
  readGatewayJson,
  run,
  runAsync,
  servingPid,
  stateDirOf,
  stateFiles,
  statusJson,
  stopGateway,
  tempHome,
  type Install,
  echoThrough,
} from "./harness.js";

const VERSION = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());
// A failed test must not leave its processes to the next one.
afterEach(() => killProcessesOf(install.bin));


/** A state dir holding only a leftover gateway.json with this content, as a crashed or foreign writer leaves it. */
function homeWithStaleFile(content: string): string {
  const home = tempHome();
  mkdirSync(stateDirOf(home), { recursive: true, mode: 0o700 });
  writeFileSync(stateFiles(home).json, content, { mode: 0o600 });
  return home;
}

/** A full, well-formed record naming `pid`. */
/** A record as a primary of this host, boot and pid namespace writes it; `startTime` "1" matches no process. */
function record(pid: number, startTime = "1"): string {
  return JSON.stringify({
    pid,
    gateway_name: "claude-mpm-gateway",
    version: VERSION,
    started_at: new Date(Date.now() - 60_000).toISOString(),
    instance_id: "00000000-0000-4000-8000-000000000000",
    host: hostname(),
    boot_id: bootId(),
    pid_namespace: pidNamespace(),
    endpoint: "/nowhere.sock",
    process_start_time: startTime,
    executable: "/nonexistent/claude-mpm-gateway",
    config_path: "/nonexistent/config.json",
    log_path: "/nonexistent/gateway.log",
  });
}

/** A pid that surely names no process: one that has just exited and been reaped. */
function deadPid(): number {
  const r = spawnSync("/bin/true");
  assert.ok(r.pid);
  return r.pid;
}

describe("stale gateway.json", () => {
  const forms: Array<[string, () => string, RegExp]> = [
    ["naming a dead pid", () => record(deadPid()), /stale gateway\.json naming pid \d+/],
    ["naming a live unrelated pid (this test's own)", () => record(process.pid), new RegExp(`stale gateway\\.json naming pid ${process.pid}\\b`)],
    ["empty", () => "", /unusable gateway\.json \(empty file\)/],
    ["garbage", () => "\u0000\u00ffnot json at all {{{", /unusable gateway\.json \(not valid JSON/],
    ["half-written JSON", () => '{"pid": 12', /unusable gateway\.json \(not valid JSON/],
  ];
  for (const [name, content, note] of forms) {
    test(`${name}: status exits 3, says it removed it, and it is gone (human and --json)`, async () => {
      const human = homeWithStaleFile(content());
      const r = run(install, human, ["status"]);
      assert.equal(r.status, 3, r.stderr);
      assert.match(r.stdout, /^○ claude-mpm-gateway - not running\n/);
      assert.match(r.stdout, new RegExp(`note: removed ${note.source}`));
      assert.equal(existsSync(stateFiles(human).json), false);
      // Nothing left to say the second time.
      const again = run(install, human, ["status"]);
      assert.equal(again.status, 3);
      assert.doesNotMatch(again.stdout, /note:/);

      const scripted = homeWithStaleFile(content());
      const { code, json } = statusJson(install, scripted);
      assert.equal(code, 3);
      assert.equal(json.running, false);
      assert.equal(json.state, "not-running");
      assert.ok(Array.isArray(json.cleaned) && json.cleaned.length === 1, JSON.stringify(json));
      assert.match((json.cleaned as string[])[0]!, new RegExp(`^removed ${note.source}`));
      assert.equal(existsSync(stateFiles(scripted).json), false);
      await expectNoProcessLeft(install.bin);
    });
  }

  test("a stale file does not stop a client from starting the gateway", async () => {
    const home = homeWithStaleFile('{"pid": 12');
    const { client } = await connectClient(install, home);
    await echoThrough(client, "fresh start");
    const info = readGatewayJson(home);
    assert.equal(info?.pid, servingPid(install, home));
    await expectPrimaries(install.bin, [info.pid as number]);
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("a live primary's gateway.json is never deleted by status", async () => {
    const home = tempHome();
    const { client } = await connectClient(install, home);
    const before = readGatewayJson(home);
    assert.ok(before);
    for (let i = 0; i < 5; i++) {
      const r = run(install, home, ["status"]);
      assert.equal(r.status, 0);
      assert.doesNotMatch(r.stdout, /note:|removed/);
    }
    assert.equal(readGatewayJson(home)?.instance_id, before.instance_id);
    assert.ok(existsSync(stateFiles(home).token));
    await echoThrough(client, "still served");
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("status exit codes and output", () => {
  test("running: exit 0, systemctl-like summary; --status is the same; --json has the stable keys", async () => {
    const home = tempHome();
    const { client } = await connectClient(install, home);
    await echoThrough(client, "x");
    const pid = servingPid(install, home);

    const r = run(install, home, ["status"]);
    assert.equal(r.status, 0);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^● claude-mpm-gateway - running\n/);
    assert.match(r.stdout, new RegExp(`\\bPID: ${pid}\\n`));
    assert.match(r.stdout, /\bSessions: 1 connected\n/);
    assert.match(r.stdout, new RegExp(`\\bVersion: ${VERSION.replace(/\./g, "\\.")}\\n`));
    assert.match(r.stdout, /\bTools: 5: echo, calculator, system_info, health_check, document_summarizer\n/);
    assert.match(r.stdout, new RegExp(`\\bEndpoint: ${socketFiles(home).endpoint}\\n`));
    assert.ok(r.stdout.includes(`State dir: ${stateDirOf(home)}\n`));
    assert.ok(r.stdout.includes(`Log: ${stateFiles(home).log}`));
    assert.match(r.stdout, /\bStarted: \d{4}-\d\d-\d\dT[\d:.]+Z \(up \d+s\)\n/);

    const flag = run(install, home, ["--status"]);
    assert.equal(flag.status, 0);
    // The same summary, up to the uptime, which may have ticked.
    assert.equal(flag.stdout.replace(/\(up [^)]*\)/, ""), r.stdout.replace(/\(up [^)]*\)/, ""));

    for (const args of [["status", "--json"], ["--status", "--json"]]) {
      const j = run(install, home, args);
      assert.equal(j.status, 0, args.join(" "));
      const json = JSON.parse(j.stdout) as Record<string, unknown>;
      for (const key of ["running", "state", "pid", "version", "started_at", "uptime_s", "sessions", "tools", "endpoint", "state_dir", "log_path"]) {
        assert.ok(key in json, `${args.join(" ")}: ${key}`);
      }
      assert.equal(json.running, true);
      assert.equal(json.state, "running");
      assert.equal(json.pid, pid);
      assert.equal(json.version, VERSION);
      assert.equal(json.sessions, 1);
      assert.deepEqual(json.tools, ["echo", "calculator", "system_info", "health_check", "document_summarizer"]);
      assert.equal(typeof json.uptime_s, "number");
      assert.equal(json.state_dir, stateDirOf(home));
      assert.equal(json.log_path, stateFiles(home).log);
      assert.equal(json.endpoint, socketFiles(home).endpoint);
    }
    // A status request is not a session.
    assert.equal(statusJson(install, home).json.sessions, 1);
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("not running: exit 3 and says so, human, --status and --json", () => {
    const home = tempHome();
    const r = run(install, home, ["status"]);
    assert.equal(r.status, 3);
    assert.match(r.stdout, /^○ claude-mpm-gateway - not running\n/);
    assert.doesNotMatch(r.stdout, /note:/);
    assert.equal(run(install, home, ["--status"]).status, 3);
    const { code, json } = statusJson(install, home);
    assert.equal(code, 3);
    assert.equal(json.running, false);
    assert.equal(json.state, "not-running");
    assert.deepEqual(json.cleaned, []);
    assert.equal(existsSync(stateDirOf(home)), false, "asking leaves no state dir behind");
    const flagJson = run(install, home, ["--status", "--json"]);
    assert.equal(flagJson.status, 3);
    assert.equal((JSON.parse(flagJson.stdout) as { running: boolean }).running, false);
  });

  test("lock held but nothing answers: exit 4, and the holder's gateway.json is left alone", async () => {
    const home = tempHome();
    mkdirSync(stateDirOf(home), { recursive: true, mode: 0o700 });
    // Another process (this test) holds the lock but serves no endpoint: a hung or foreign primary.
    const holder: Server = createServer((s) => s.destroy());
    await new Promise<void>((ok, fail) => {
      holder.once("error", fail);
      holder.listen(socketFiles(home).lock, ok);
    });
    try {
      // Unproven first (a start time that is not this process's): no pid is offered to kill.
      writeFileSync(stateFiles(home).json, record(process.pid), { mode: 0o600 });
      const unproven = await runAsync(install, home, ["status"]);
      assert.equal(unproven.status, 4);
      assert.match(unproven.stdout, /^× claude-mpm-gateway - lock held but not answering\n/);
      assert.match(unproven.stdout, /could not be proven to be the recorded primary .*so no pid is shown to kill/);
      assert.doesNotMatch(unproven.stdout, /kill \d/);
      writeFileSync(stateFiles(home).json, record(process.pid, processStartTime(process.pid)!), { mode: 0o600 });
      // Each waits a few seconds for an answer that never comes: run them side by side.
      const [r, flag, j] = await Promise.all([
        runAsync(install, home, ["status"]),
        runAsync(install, home, ["--status"]),
        runAsync(install, home, ["status", "--json"]),
      ]);
      assert.equal(r.status, 4, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^× claude-mpm-gateway - lock held but not answering \\(pid ${process.pid}\\)\\n`));
      assert.match(r.stdout, new RegExp(`kill ${process.pid}`));
      assert.equal(flag.status, 4);
      assert.equal(flag.stdout, r.stdout);
      assert.equal(j.status, 4);
      const json = JSON.parse(j.stdout) as { running: boolean; state: string; instance: { pid: number } };
      assert.equal(json.running, false);
      assert.equal(json.state, "unresponsive");
      assert.equal(json.instance.pid, process.pid);
      // The lock is held: whatever holds it owns this file, and status must not touch it.
      assert.equal(readGatewayJson(home)?.pid, process.pid);
      // stop cannot stop what does not answer, and says so with the same code.
      const stop = await runAsync(install, home, ["stop"]);
      assert.equal(stop.status, 4);
      assert.match(stop.stderr, /holds the lock but does not answer/);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
    // Released while the recorded process (this test) still lives: a primary this status cannot reach
    // (another mount namespace would look so). Reported, and its record left alone.
    const alive = run(install, home, ["status"]);
    assert.equal(alive.status, 4);
    assert.match(alive.stdout, new RegExp(`^◌ claude-mpm-gateway - running elsewhere \\(pid ${process.pid}, alive but not holding this lock`));
    assert.equal(readGatewayJson(home)?.pid, process.pid);
    // Once that process is provably not the recorded one (its start time differs), the file is stale and
    // status cleans it.
    writeFileSync(stateFiles(home).json, record(process.pid), { mode: 0o600 });
    const r = run(install, home, ["status"]);
    assert.equal(r.status, 3);
    assert.match(r.stdout, /note: removed stale gateway\.json/);
    await expectNoProcessLeft(install.bin);
  });
  test("stop waits for a primary still starting instead of calling it unresponsive", async () => {
    const home = tempHome();
    const fake = await slowStartingPrimary(home, 700);
    try {
      const r = await runAsync(install, home, ["stop"]);
      assert.deepEqual(r, { status: 0, stdout: `claude-mpm-gateway stopped (pid ${process.pid})\n`, stderr: "" });
    } finally {
      await fake.close();
    }
    await expectNoProcessLeft(install.bin);
  });

  test("a primary still starting (lock held, endpoint not yet up) is reported running, not unresponsive", async () => {
    const home = tempHome();
    const fake = await slowStartingPrimary(home, 700);
    try {
      const r = await runAsync(install, home, ["status", "--json"]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const json = JSON.parse(r.stdout) as { running: boolean; pid: number };
      assert.equal(json.running, true);
      assert.equal(json.pid, process.pid);
    } finally {
      await fake.close();
    }
    await expectNoProcessLeft(install.bin);
  });
});

/**
 * A primary that has taken the lock but is not listening yet, as every primary is for a moment while it
 * writes its files: it comes up after `delayMs` and answers one status request the way the real one does.
 */
async function slowStartingPrimary(home: string, delayMs: number): Promise<{ ready: Promise<void>; close(): Promise<void> }> {
  mkdirSync(stateDirOf(home), { recursive: true, mode: 0o700 });
  // One socket is lock and endpoint: until it is "up" it closes connections unread, as the real one does.
  let up = false;
  const token = "ab".repeat(32);
  const server = createServer((sock) => {
    if (!up) {
      sock.destroy();
      return;
    }
    // The hello as the real primary does it (the token proved both ways), then one control request.
    void acceptHello(sock, token, { ok: true, pid: process.pid, instance_id: "slow" }).then(
      () => {
        let buf = "";
        sock.setEncoding("utf8");
        sock.on("data", (d: string) => {
          buf += d;
          const nl = buf.indexOf("\n");
          if (nl === -1) return;
          const line = JSON.parse(buf.slice(0, nl)) as { op?: string };
          if (line.op === "status") {
            sock.end(JSON.stringify({ ...JSON.parse(record(process.pid)), state_dir: stateDirOf(home), uptime_s: 0, sessions: 0, tools: [], downstream: [] }) + "\n");
          } else if (line.op === "stop") {
            sock.end(JSON.stringify({ ok: true, pid: process.pid }) + "\n");
            void close();
          }
        });
        sock.resume();
      },
      () => undefined,
    );
  });
  await new Promise<void>((ok, fail) => server.once("error", fail).listen(socketFiles(home).lock, ok));
  const ready = new Promise<void>((ok) =>
    setTimeout(() => {
      writeFileSync(stateFiles(home).token, token + "\n", { mode: 0o600 });
      up = true;
      ok();
    }, delayMs),
  );
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= ready.then(async () => {
      await new Promise<void>((r) => server.close(() => r()));
    }));
  return { ready, close };
}

/** Connects to the endpoint with raw bytes; resolves with what came back once the primary closes it. */
function knock(address: string, send: string): Promise<{ received: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(address);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed: false });
    }, 5000);
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", () => {}); // a reset counts as closed
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closed: true });
    });
    socket.once("connect", () => socket.write(send));
    socket.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED" || err.code === "ENOENT") reject(err);
    });
  });
}

describe("the endpoint's door", () => {
  test("no token or a wrong token: closed with not a byte sent back; the primary goes on serving", async () => {
    const home = tempHome();
    const { client } = await connectClient(install, home);
    await echoThrough(client, "before");
    const endpoint = readGatewayJson(home)!.endpoint as string;
    assert.equal(endpoint, socketFiles(home).endpoint);
    const address = endpoint;
    const initialize = JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "intruder", version: "1" } } }) + "\n";
    const token = readFileSync(stateFiles(home).token, "utf8").trim();
    const wrong = token.replace(/^./, (c) => (c === "0" ? "1" : "0"));

    const attempts: Array<[string, string]> = [
      ["an MCP initialize without hello", initialize],
      ["a hello that hands over the token (no nonce)", JSON.stringify({ claude_mpm_gateway: 2, kind: "session", token }) + "\n" + initialize],
      ["a hello of another protocol version", JSON.stringify({ claude_mpm_gateway: 1, kind: "session", nonce: "0".repeat(32) }) + "\n" + initialize],
      ["a hello with no kind", JSON.stringify({ claude_mpm_gateway: 2, nonce: "0".repeat(32) }) + "\n" + initialize],
    ];
    attempts.push(["a hello line longer than any hello, never ended", "x".repeat(4096)]);
    for (const [what, bytes] of attempts) {
      const r = await knock(address, bytes);
      assert.equal(r.closed, true, `${what}: closed`);
      assert.equal(r.received.length, 0, `${what}: got ${JSON.stringify(r.received.toString())}`);
    }
    // A well-formed hello gets the primary's proof (so a client can tell a real primary), but a wrong
    // answer to its challenge gets no welcome, only a closed connection.
    const clientNonce = "ab".repeat(16);
    const wrongProof = proofFor(wrong, "client", "whatever");
    const challenged = await knock(address, JSON.stringify({ claude_mpm_gateway: 2, kind: "session", nonce: clientNonce }) + "\n" + JSON.stringify({ proof: wrongProof }) + "\n" + initialize);
    assert.equal(challenged.closed, true);
    const lines = challenged.received.toString().trim().split("\n");
    assert.equal(lines.length, 1, `only the challenge: ${challenged.received.toString()}`);
    const challenge = JSON.parse(lines[0]!) as { nonce: string; proof: string };
    assert.equal(challenge.proof, proofFor(token, "primary", clientNonce));
    // A connection that says nothing is not kept open for long (the hello has a time limit).
    const silent = await knock(address, "");
    assert.equal(silent.closed, true, "a silent connection is closed");
    assert.equal(silent.received.length, 0);
    // The same door opens for whoever holds the token: a welcome, then the connection's traffic.
    const socket = connect(address);
    await new Promise((r) => socket.once("connect", r));
    const welcome = await sendHello(socket, token, "control");
    assert.equal(welcome.ok, true);
    socket.write(JSON.stringify({ op: "status" }) + "\n");
    const status = await new Promise<Record<string, unknown>>((resolve) => {
      let buf = "";
      socket.on("data", (d) => {
        buf += d;
        if (buf.includes("\n")) resolve(JSON.parse(buf.slice(0, buf.indexOf("\n"))) as Record<string, unknown>);
      });
      socket.resume(); // the hello leaves it paused, so no byte after the welcome is lost
    });
    socket.destroy();
    assert.equal(status.sessions, 1, "the refused connections never became sessions");

    await echoThrough(client, "after");
    const { client: other } = await connectClient(install, home);
    await echoThrough(other, "a new client too");
    await client.close();
    await other.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});
