// Ready before answering: a list or call made while a configured server starts waits for it (bounded by its
// startTimeoutMs), a server that is down is not waited for, and a call never meets "Unknown tool" because
// the server behind it was still starting.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { configureLogging } from "../../src/log.js";
import { DEFAULT_TIMING } from "../../src/downstream/downstream.js";
import { DownstreamManager } from "../../src/downstream/manager.js";
import { Registry } from "../../src/tools/registry.js";
import { waitFor } from "../e2e/harness.js";

configureLogging({ level: "silent" });

const flaky = (dir: string, env: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [resolve("test", "fixtures", "flaky-server.mjs")],
  env: { FLAKY_STATE: dir, ...env },
  ...extra,
});

function setup(servers: Record<string, unknown>, timing = DEFAULT_TIMING) {
  const dir = mkdtempSync(join(tmpdir(), "cmg-unit-ready-"));
  const configPath = join(dir, "config.json");
  const withDir = Object.fromEntries(Object.entries(servers).map(([k, v]) => [k, typeof v === "function" ? (v as (d: string) => unknown)(dir) : v]));
  writeFileSync(configPath, JSON.stringify({ mcpServers: withDir }));
  const manager = new DownstreamManager({ configPath, reserved: ["echo"], timing, watch: false });
  const registry = new Registry([], {} as never);
  registry.addProvider(manager);
  return { manager, registry };
}

const text = (r: { content: unknown }) => JSON.stringify(r.content);

describe("ready before answering", () => {
  test("the first list after start holds a slow server's tools; a call made at once reaches it", async () => {
    const { manager, registry } = setup({ slow: (d: string) => flaky(d, { FLAKY_START_DELAY_MS: "1500" }, { startTimeoutMs: 60_000 }) });
    manager.start();
    try {
      // Asked before the server answered its handshake: both wait for it instead of answering without it.
      const [, call] = await Promise.all([registry.ready(), registry.call("slow__pid", {}, new AbortController().signal)]);
      assert.ok(registry.list().some((t) => t.name === "slow__pid"), "the list holds the slow server's tools");
      assert.equal(call.isError, undefined, text(call));
      assert.match(text(call), /\d+/);
      assert.equal(manager.status()[0]?.state, "running");
    } finally {
      await manager.stop();
    }
  });

  test("the wait is bounded by the server's startTimeoutMs; past it, its tools are missing", async () => {
    const { manager, registry } = setup({ slower: (d: string) => flaky(d, { FLAKY_START_DELAY_MS: "20000" }, { startTimeoutMs: 300 }) });
    manager.start();
    try {
      await registry.ready();
      assert.equal(manager.status()[0]?.state, "starting", "answered while the server was still starting");
      assert.ok(!registry.list().some((t) => t.name.startsWith("slower__")));
      const r = await registry.call("slower__pid", {}, new AbortController().signal);
      assert.match(text(r), /Unknown tool \\"slower__pid\\"/, "past the bound, the tool is not known yet");
    } finally {
      await manager.stop();
    }
  });

  test("a server that is down is not waited for", async () => {
    const { manager, registry } = setup(
      { broken: (d: string) => flaky(d, { FLAKY_EXIT_AT_START: "1" }, { startTimeoutMs: 600_000 }) },
      { ...DEFAULT_TIMING, backoffBaseMs: 600_000 },
    );
    manager.start();
    try {
      await waitFor("broken in backoff", () => manager.status()[0]?.state === "backoff", 30_000);
      // With a 10-minute bound, any wait here would outlast the test's own timeout.
      await registry.ready();
      const r = await registry.call("broken__pid", {}, new AbortController().signal);
      assert.equal(r.isError, true);
    } finally {
      await manager.stop();
    }
  });

  test("a cancelled list stops waiting", async () => {
    const { manager, registry } = setup({ slower: (d: string) => flaky(d, { FLAKY_START_DELAY_MS: "20000" }, { startTimeoutMs: 600_000 }) });
    manager.start();
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      await registry.ready(ac.signal);
      assert.equal(manager.status()[0]?.state, "starting");
    } finally {
      await manager.stop();
    }
  });
});
