// The manager with real fixture servers and a fast config watch: hot reload touches only what changed,
// an invalid edit keeps the last good config, list_changed is published, stop leaves no process.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { configureLogging } from "../../src/log.js";
import { isAlive as alive, waitFor } from "../e2e/harness.js";
import { DEFAULT_TIMING } from "../../src/downstream/downstream.js";
import { DownstreamManager, type ListKind } from "../../src/downstream/manager.js";
import { Prestarted } from "../../src/downstream/prestart.js";

configureLogging({ level: "silent" });

const dir = mkdtempSync(join(tmpdir(), "cmg-unit-manager-"));
const configFile = join(dir, "config.json");
const flaky = (tag: string) => ({ command: process.execPath, args: [resolve("test", "fixtures", "flaky-server.mjs")], env: { FLAKY_STATE: dir, TAG: tag } });

function write(servers: Record<string, unknown> | string): void {
  writeFileSync(`${configFile}.tmp`, typeof servers === "string" ? servers : JSON.stringify({ mcpServers: servers }));
  renameSync(`${configFile}.tmp`, configFile);
}

const until = (what: string, check: () => boolean, timeoutMs = 30_000) => waitFor(what, check, timeoutMs);

describe("downstream manager", () => {
  test("hot reload: add, invalid edit, change one, remove; stop leaves nothing", async () => {
    write({ a: flaky("a") });
    const m = new DownstreamManager({ configPath: configFile, reserved: ["echo"], timing: DEFAULT_TIMING, watch: { debounceMs: 50, pollMs: 200 } });
    const changes: ListKind[][] = [];
    m.on("listChanged", (kinds: ListKind[]) => changes.push(kinds));
    m.start();
    const pidOf = (name: string) => m.status().find((s) => s.name === name && s.state === "running")?.pid ?? undefined;
    await until("a running", () => pidOf("a") !== undefined);
    await until("a's tools published", () => changes.some((k) => k.includes("tools")));
    assert.ok(m.list().some((t) => t.name === "a__pid"));
    const pidA = pidOf("a")!;

    changes.length = 0;
    write({ a: flaky("a"), b: flaky("b") });
    await until("b running", () => pidOf("b") !== undefined);
    await until("list_changed for b", () => changes.some((k) => k.includes("tools")) && m.list().some((t) => t.name === "b__pid"));
    assert.equal(pidOf("a"), pidA, "a was not touched");

    write("{ this is not json");
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(m.status().map((s) => s.name), ["a", "b"], "the last good config stays");

    const pidB = pidOf("b")!;
    write({ a: flaky("a"), b: flaky("b2") });
    await until("b restarted for its new env", () => pidOf("b") !== undefined && pidOf("b") !== pidB);
    assert.ok(!alive(pidB), "the old b is gone");
    assert.equal(pidOf("a"), pidA, "a still was not touched");

    write({ b: flaky("b2") });
    await until("a removed", () => !m.list().some((t) => t.name.startsWith("a__")));
    await until("a's process gone", () => !alive(pidA));

    const last = pidOf("b")!;
    await m.stop();
    assert.ok(!alive(last));
    assert.deepEqual(m.status(), []);
  });

  test("a call to a server that is down says so", async () => {
    write({ c: flaky("c") });
    const m = new DownstreamManager({ configPath: configFile, reserved: [], timing: { ...DEFAULT_TIMING, backoffBaseMs: 5000 }, watch: false });
    m.start();
    await until("c's tools", () => m.list().some((t) => t.name === "c__crash"));
    const ctx = { gateway: {} as never, signal: new AbortController().signal };
    await m.call("c__crash", {}, ctx);
    await until("c down", () => m.status()[0]?.state === "backoff");
    const r = await m.call("c__pid", {}, ctx)!;
    assert.equal(r.isError, true);
    assert.match(JSON.stringify(r.content), /server \\"c\\" is down \(backoff: exited with code 1/);
    assert.equal(m.call("nobody__pid", {}, ctx), undefined, "not ours: the registry says unknown tool");
    await m.stop();
  });

  test("servers started early: the first apply opens its sessions over them, and stops the ones it does not use", async () => {
    const state = mkdtempSync(join(tmpdir(), "cmg-unit-prestart-"));
    const server = (tag: string) => ({ command: process.execPath, args: [resolve("test", "fixtures", "flaky-server.mjs")], env: { FLAKY_STATE: state, TAG: tag } });
    write({ kept: server("kept"), changed: server("before"), off: { ...server("off"), disabled: true } });
    const early = Prestarted.fromConfig(configFile);
    assert.equal(early.size, 2, "every enabled local server, none disabled");
    const keptPid = early.pidOf("kept");
    assert.ok(keptPid && early.pidOf("changed"));
    // Edited between the early start and the manager's first read: that entry's early process is not used.
    write({ kept: server("kept"), changed: server("after"), off: { ...server("off"), disabled: true } });
    const m = new DownstreamManager({ configPath: configFile, reserved: ["echo"], timing: DEFAULT_TIMING, watch: false, prestarted: early });
    m.start();
    const pidOf = (name: string) => m.status().find((s) => s.name === name && s.state === "running")?.pid ?? undefined;
    await until("both running", () => pidOf("kept") !== undefined && pidOf("changed") !== undefined);
    assert.equal(pidOf("kept"), keptPid, "the session runs over the process started early");
    await until("the unused early process to be stopped", () => tagged(state, "before").length === 0);
    assert.deepEqual(tagged(state, "kept"), [keptPid], "no second process for the kept entry");
    assert.deepEqual(tagged(state, "after"), [pidOf("changed")]);
    assert.equal(m.status().find((s) => s.name === "off")?.state, "disabled");
    await m.stop();
    await until("nothing left", () => tagged(state).length === 0);
  });

  test("stopped before its first apply: the servers started early are stopped with it", async () => {
    const state = mkdtempSync(join(tmpdir(), "cmg-unit-prestart-"));
    write({ a: { command: process.execPath, args: [resolve("test", "fixtures", "flaky-server.mjs")], env: { FLAKY_STATE: state } } });
    const early = Prestarted.fromConfig(configFile);
    const pid = early.pidOf("a")!;
    assert.ok(alive(pid));
    const m = new DownstreamManager({ configPath: configFile, reserved: ["echo"], timing: DEFAULT_TIMING, watch: false, prestarted: early });
    await m.stop();
    assert.ok(!alive(pid), "stopped with the manager");
    assert.deepEqual(m.status(), []);
  });
});

/** Live pids of the fixture servers of `state` (their environment says so), with TAG=`tag` when given. */
function tagged(state: string, tag?: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || !alive(Number(entry))) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (env.includes(`FLAKY_STATE=${state}`) && (tag === undefined || env.includes(`TAG=${tag}`))) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}
