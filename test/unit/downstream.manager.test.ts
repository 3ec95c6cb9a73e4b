// The manager with real fixture servers and a fast config watch: hot reload touches only what changed,
// an invalid edit keeps the last good config, list_changed is published, stop leaves no process.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { configureLogging } from "../../src/log.js";
import { isAlive as alive, waitFor } from "../e2e/harness.js";
import { DEFAULT_TIMING } from "../../src/downstream/downstream.js";
import { DownstreamManager, type ListKind } from "../../src/downstream/manager.js";

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
});
