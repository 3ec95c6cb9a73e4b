// Upgrade in place (issue 14): two releases of the gateway on one installation. `status` tells which version
// serves beside its own; only a newer release replaces a running primary (never an older one, and the primary
// checks the program itself); `restart --exec` hands over to another binary and refuses one that cannot start.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { controlRequest, coordinatesFor } from "../../src/coordination/client.js";
import { statePaths } from "../../src/coordination/paths.js";
import {
  connectClient,
  echoThrough,
  expectNoProcessLeft,
  installBinary,
  isAlive,
  readGatewayJson,
  run,
  servingPid,
  stateFiles,
  statusJson,
  stopGateway,
  tempHome,
  waitFor,
  type Install,
} from "./harness.js";
import { buildRelease, killProcessesOfFile, NEXT_VERSION, OLD_VERSION, processesOfFile } from "./versionKit.js";
import { SERVERS, textOf, waitForTools, writeConfig } from "./downstreamKit.js";

let old: Install;
let next: Install;
let release: { bin: string; cleanup(): void };
before(() => {
  old = installBinary();
  release = buildRelease(NEXT_VERSION);
  next = installBinary(release.bin);
});
after(() => {
  old.cleanup();
  next.cleanup();
  release.cleanup();
});
afterEach(() => {
  killProcessesOfFile(old.bin);
  killProcessesOfFile(next.bin);
});

/** For a primary started by `restart`: it has no session until a client's next call, however slow the machine. */
const LONG_LINGER = { CLAUDE_MPM_GATEWAY_LINGER_MS: "60000" };

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** One control message to the primary of `home`, as a bridge or the CLI sends it. */
function control<T>(home: string, message: { op: string }): Promise<T | null> {
  const env = { CLAUDE_MPM_HOME: home, HOME: home };
  return controlRequest<T>(coordinatesFor(statePaths(env), env), message, 30_000);
}

describe("two releases on one installation", () => {
  test("status shows the running version beside this binary's, and says when they differ, both ways", async () => {
    const home = tempHome();
    const { client } = await connectClient(old, home);
    await echoThrough(client, "old serves");

    const same = run(old, home, ["status"]);
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stdout, new RegExp(`\\n     Version: ${esc(OLD_VERSION)}\\n This binary: ${esc(OLD_VERSION)} \\(${esc(old.bin)}\\)\\n`));
    assert.doesNotMatch(same.stdout, /note:/);

    const newer = run(next, home, ["status"]);
    assert.equal(newer.status, 0, newer.stderr);
    assert.match(newer.stdout, new RegExp(`\\n     Version: ${esc(OLD_VERSION)}\\n This binary: ${esc(NEXT_VERSION)} \\(${esc(next.bin)}\\)\\n`));
    assert.ok(
      newer.stdout.includes(
        `\n  note: this binary (${NEXT_VERSION}) is newer than the running gateway (${OLD_VERSION}): the next client started from it upgrades the gateway in place (sessions and servers kept); to upgrade now: ${next.bin} restart\n`,
      ),
      newer.stdout,
    );
    const json = statusJson(next, home).json;
    assert.equal(json.version, OLD_VERSION);
    assert.equal(json.binary_version, NEXT_VERSION);
    assert.equal(json.binary_path, next.bin);
    assert.equal(json.executable, old.bin);
    await client.close();
    stopGateway(old, home);
    await expectNoProcessLeft(old.bin);

    // The other way round: a newer release serves, and an older binary asks.
    const { client: nextClient } = await connectClient(next, home);
    await echoThrough(nextClient, "next serves");
    const older = run(old, home, ["status"]);
    assert.equal(older.status, 0, older.stderr);
    assert.match(older.stdout, new RegExp(`\\n     Version: ${esc(NEXT_VERSION)}\\n This binary: ${esc(OLD_VERSION)} \\(${esc(old.bin)}\\)\\n`));
    assert.ok(
      older.stdout.includes(`\n  note: this binary (${OLD_VERSION}) is older than the running gateway (${NEXT_VERSION}), which stays: an older binary never replaces a newer gateway\n`),
      older.stdout,
    );
    await nextClient.close();
    stopGateway(next, home);
    await expectNoProcessLeft(next.bin);
  });

  test("an older client never replaces a newer primary, and the primary refuses an upgrade to a version not above its own", async () => {
    const home = tempHome();
    const { client: newer } = await connectClient(next, home);
    await echoThrough(newer, "next serves");
    const primary = servingPid(next, home);

    // A client of the older release is served by the newer primary, which stays.
    const { client: older } = await connectClient(old, home);
    await echoThrough(older, "old client, new primary");
    assert.equal(servingPid(next, home), primary);
    assert.equal(readGatewayJson(home)?.version, NEXT_VERSION);

    // Asked directly, as a newer bridge would ask: to its own version, to an older one, to a non-gateway.
    for (const [command, error] of [
      [next.bin, `${next.bin} is ${NEXT_VERSION}, not newer than the running ${NEXT_VERSION}: only a newer gateway replaces a running one`],
      [old.bin, `${old.bin} is ${OLD_VERSION}, not newer than the running ${NEXT_VERSION}: only a newer gateway replaces a running one`],
      ["/bin/false", "/bin/false: --version failed (exit code 1)"],
      ["/nonexistent/claude-mpm-gateway", "/nonexistent/claude-mpm-gateway: it cannot be started (ENOENT)"],
    ]) {
      const answer = await control<{ ok: boolean; error?: string; pid?: number }>(home, { op: "handover", program: { command, args: [] }, upgrade: true } as { op: string });
      assert.deepEqual(answer, { ok: false, pid: primary, error }, command);
    }
    assert.equal(servingPid(next, home), primary);
    await echoThrough(older, "still served");
    await echoThrough(newer, "still served");
    await older.close();
    await newer.close();
    stopGateway(next, home);
    await expectNoProcessLeft(next.bin);
    await expectNoProcessLeft(old.bin);
  });

  test("restart --exec refuses a program that cannot start, and hands over to another release", async () => {
    const home = tempHome();
    const { client } = await connectClient(old, home);
    await echoThrough(client, "before");
    const primary = servingPid(old, home);

    const text = join(home, "not-a-binary");
    writeFileSync(text, "hello\n");
    const silent = join(home, "silent");
    writeFileSync(silent, "#!/bin/sh\nexit 0\n");
    chmodSync(silent, 0o755);
    for (const [path, message] of [
      ["/nonexistent/claude-mpm-gateway", "/nonexistent/claude-mpm-gateway: no such file"],
      [home, `${home}: not a file`],
      [text, `${text}: not executable (chmod +x it)`],
      [silent, `${silent}: --version printed nothing, not a claude-mpm-gateway version`],
      ["/bin/false", "/bin/false: --version failed (exit code 1)"],
    ] as Array<[string, string]>) {
      const r = run(old, home, ["restart", "--exec", path]);
      assert.deepEqual(r, { status: 2, stdout: "", stderr: `claude-mpm-gateway: ${message}\n` }, path);
    }
    const missing = run(old, home, ["restart", "--exec"]);
    assert.equal(missing.status, 2);
    assert.equal(servingPid(old, home), primary, "a refused restart leaves the primary alone");

    // The next primary has no session until the client's next call: a long linger so it waits for one.
    const r = run(old, home, ["restart", "--exec", next.bin], LONG_LINGER);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.endsWith(`claude-mpm-gateway now runs ${NEXT_VERSION} from ${next.bin}\n`), r.stdout);
    const { json } = statusJson(next, home);
    assert.equal(json.version, NEXT_VERSION);
    assert.equal(json.executable, next.bin);
    assert.notEqual(json.pid, primary);
    // The client of the older release goes on, served by the newer primary.
    await echoThrough(client, "after");
    assert.equal(statusJson(next, home).json.pid, json.pid);
    await client.close();
    stopGateway(next, home);
    await expectNoProcessLeft(next.bin);
    await expectNoProcessLeft(old.bin);
  });

  test("restart from an older binary restarts the running newer release, not this one", async () => {
    const home = tempHome();
    const { client } = await connectClient(next, home);
    await echoThrough(client, "next serves");
    const primary = servingPid(next, home);
    const r = run(old, home, ["restart"], LONG_LINGER);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(
      r.stdout.startsWith(
        `this binary (${OLD_VERSION}) is older than the running gateway (${NEXT_VERSION}): restarting it from its own binary ${next.bin} (${NEXT_VERSION}); to go back to this one: restart --exec ${old.bin}\n`,
      ),
      r.stdout,
    );
    await echoThrough(client, "after");
    const { json } = statusJson(next, home);
    assert.equal(json.version, NEXT_VERSION);
    assert.notEqual(json.pid, primary);
    await client.close();
    stopGateway(next, home);
    await expectNoProcessLeft(next.bin);
    await expectNoProcessLeft(old.bin);
  });

  test("restart --exec the older release is kept: a client of the newer one, already connected, does not upgrade it again", async () => {
    const home = tempHome();
    const b = await connectClient(next, home, [], LONG_LINGER);
    await echoThrough(b.client, "before");
    assert.equal(statusJson(next, home).json.version, NEXT_VERSION);
    const r = run(old, home, ["restart", "--exec", old.bin], LONG_LINGER);
    assert.equal(r.status, 0, r.stderr);
    const downgraded = servingPid(old, home);
    // The newer client's bridge reconnects to the older primary: its call is served there, and nothing is asked.
    await echoThrough(b.client, "after");
    const { json } = statusJson(old, home);
    assert.equal(json.version, OLD_VERSION);
    assert.equal(json.pid, downgraded);
    await b.client.close();
    stopGateway(old, home);
    await expectNoProcessLeft(old.bin);
    await expectNoProcessLeft(next.bin);
  });

  test("clients of two releases starting and leaving in turn: the primary is upgraded once and never goes back", async () => {
    const home = tempHome();
    const a1 = await connectClient(old, home);
    await echoThrough(a1.client, "a1");
    const first = servingPid(old, home);
    const b1 = await connectClient(next, home);
    await echoThrough(b1.client, "b1");
    const upgraded = servingPid(next, home);
    assert.notEqual(upgraded, first);
    await echoThrough(a1.client, "a1 again");
    const a2 = await connectClient(old, home);
    await echoThrough(a2.client, "a2");
    await b1.client.close();
    const b2 = await connectClient(next, home);
    await echoThrough(b2.client, "b2");
    await a1.client.close();
    const a3 = await connectClient(old, home);
    await echoThrough(a3.client, "a3");
    const { json } = statusJson(next, home);
    assert.equal(json.pid, upgraded);
    assert.equal(json.version, NEXT_VERSION);
    assert.equal(json.sessions, 3);
    // One handover, asked by the first client of the newer release; no client of the older one ever asked.
    const log = readFileSync(stateFiles(home).log, "utf8");
    assert.equal(log.match(/handing over to pid/g)?.length, 1, log);
    assert.doesNotMatch(log, /upgrade refused/);
    for (const c of [a2, b2, a3]) await c.client.close();
    stopGateway(next, home);
    await expectNoProcessLeft(next.bin);
    await expectNoProcessLeft(old.bin);
  });

  test("a client of the older release, served by the newer one, brings back the newer one after the primary dies", async () => {
    const home = tempHome();
    const { client } = await connectClient(old, home);
    await echoThrough(client, "old serves");
    assert.equal(run(old, home, ["restart", "--exec", next.bin], LONG_LINGER).status, 0);
    await echoThrough(client, "next serves");
    const upgraded = servingPid(next, home);
    process.kill(upgraded, "SIGKILL");
    await waitFor("the killed primary to go", () => !isAlive(upgraded));
    // The old client's bridge starts the next primary: the release it was last served by, not its own.
    const r = await client.callTool({ name: "echo", arguments: { message: "again" } }).catch(() => client.callTool({ name: "echo", arguments: { message: "again" } }));
    assert.deepEqual(r.content, [{ type: "text", text: "again" }]);
    const { json } = statusJson(next, home);
    assert.equal(json.version, NEXT_VERSION);
    assert.equal(json.executable, next.bin);
    assert.notEqual(json.pid, upgraded);
    await client.close();
    stopGateway(next, home);
    await expectNoProcessLeft(next.bin);
    await expectNoProcessLeft(old.bin);
  });
});

describe("upgrade in place", () => {
  test("a release installed over the running binary: the next client upgrades the primary; the first client's session reads back what it wrote, from the same memory server process", async () => {
    // Its own copy of the older release: the install below replaces this file.
    const installed = installBinary();
    const home = tempHome();
    try {
      writeConfig(home, { memory: { ...SERVERS.memory(), env: { MEMORY_FILE_PATH: join(home, "memory.jsonl") } } });
      const first = await connectClient(installed, home);
      await waitForTools(first.client, "memory tools", (n) => n.includes("memory__create_entities"));
      const written = await first.client.callTool({
        name: "memory__create_entities",
        arguments: { entities: [{ name: "upgrade-probe", entityType: "test", observations: [`written under ${OLD_VERSION}`] }] },
      });
      assert.ok(!written.isError, textOf(written));
      const before = statusJson(installed, home).json as { pid: number; version: string; executable: string; downstream: Array<{ name: string; pid: number }> };
      assert.equal(before.version, OLD_VERSION);
      const memoryPid = before.downstream.find((d) => d.name === "memory")!.pid;
      assert.ok(memoryPid > 0);

      // The install: the new release is written beside the file and renamed over it, as the README's line does.
      copyFileSync(release.bin, `${installed.bin}.new`);
      renameSync(`${installed.bin}.new`, installed.bin);
      assert.equal(run(installed, home, ["--version"]).stdout.trim(), NEXT_VERSION);
      // Nothing has changed yet: the old primary serves, and status (now the new binary) says so.
      assert.match(run(installed, home, ["status"]).stdout, new RegExp(`note: this binary \\(${esc(NEXT_VERSION)}\\) is newer than the running gateway \\(${esc(OLD_VERSION)}\\)`));

      // A client started from the new file: its bridge asks the old primary to hand over to it.
      const second = await connectClient(installed, home);
      await echoThrough(second.client, "served by the new release");
      const after = statusJson(installed, home).json as typeof before;
      assert.equal(after.version, NEXT_VERSION);
      assert.notEqual(after.pid, before.pid);
      assert.equal(after.executable, installed.bin);
      assert.equal(after.downstream.find((d) => d.name === "memory")!.pid, memoryPid, "the memory server was handed over, not restarted");
      assert.doesNotMatch(run(installed, home, ["status"]).stdout, /note:/);

      // The first client, never restarted, still runs the old code (its file was replaced under it).
      const oldBridges = processesOfFile(installed.bin).filter((p) => p.replaced && !p.args.includes("--primary"));
      assert.equal(oldBridges.length, 1, JSON.stringify(processesOfFile(installed.bin)));
      const read = await first.client.callTool({ name: "memory__open_nodes", arguments: { names: ["upgrade-probe"] } });
      assert.match(textOf(read), new RegExp(`written under ${esc(OLD_VERSION)}`));
      await echoThrough(first.client, "the old client goes on");
      // And it does not ask again: the primary stays the one the upgrade made.
      assert.equal(statusJson(installed, home).json.pid, after.pid);

      await first.client.close();
      await second.client.close();
      stopGateway(installed, home);
      await waitFor("no process of the installed file", () => processesOfFile(installed.bin).length === 0);
    } finally {
      killProcessesOfFile(installed.bin);
      installed.cleanup();
    }
  });
});
