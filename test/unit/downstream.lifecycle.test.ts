// The lifecycle of one downstream server, with the flaky fixture and short timings: backoff, crash-loop,
// the reset after a stable run, stop while starting.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { configureLogging } from "../../src/log.js";
import { isAlive as alive, waitFor } from "../e2e/harness.js";
import type { StdioServerConfig } from "../../src/downstream/config.js";
import { DEFAULT_TIMING, Downstream, type DownstreamHooks, type DownstreamState, type Timing } from "../../src/downstream/downstream.js";
import { EraCache } from "../../src/downstream/eraCache.js";

configureLogging({ level: "silent" });

const TIMING: Timing = { ...DEFAULT_TIMING, backoffBaseMs: 60, backoffMaxMs: 240, stableMs: 400, maxFailures: 5, crashLoopRetryMs: 60_000, stopGraceMs: 1000 };

function flaky(env: Record<string, string> = {}): { config: StdioServerConfig; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "cmg-unit-flaky-"));
  const config: StdioServerConfig = {
    type: "stdio",
    command: process.execPath,
    args: [resolve("test", "fixtures", "flaky-server.mjs")],
    env: { FLAKY_STATE: dir, ...env },
    disabled: false,
  };
  return { config, dir };
}

function recorder(): { hooks: DownstreamHooks; states: Array<{ state: DownstreamState; at: number }> } {
  const states: Array<{ state: DownstreamState; at: number }> = [];
  const hooks: DownstreamHooks = {
    changed: (d) => {
      if (states.at(-1)?.state !== d.state) states.push({ state: d.state, at: Date.now() });
    },
    log: () => undefined,
    resourceUpdated: () => undefined,
    request: () => Promise.reject(new Error("no client")),
    connected: async () => undefined,
    eras: new EraCache(),
  };
  return { hooks, states };
}

const until = (what: string, check: () => boolean, timeoutMs = 30_000) => waitFor(what, check, timeoutMs);

const starts = (dir: string) => readFileSync(join(dir, "starts"), "utf8").split("\n").filter(Boolean).map(Number);

describe("downstream lifecycle", () => {
  test("a server failing at start backs off 1x, 2x, 4x (capped) and ends in crash-loop after 5 failures", async () => {
    const { config, dir } = flaky({ FLAKY_EXIT_AT_START: "1" });
    const { hooks, states } = recorder();
    const d = new Downstream("doomed", config, hooks, TIMING);
    d.start();
    await until("crash-loop", () => d.state === "crash-loop");
    const s = d.status();
    assert.equal(s.restarts, 4);
    assert.equal(s.pid, null);
    assert.match(s.last_error!, /exited with code 3/);
    assert.equal(starts(dir).length, 5);
    // The waits between a failure and the next start grow: 60, 120, 240, 240 ms.
    const gaps: number[] = [];
    for (let i = 1; i < states.length; i++) if (states[i]!.state === "starting" && states[i - 1]!.state === "backoff") gaps.push(states[i]!.at - states[i - 1]!.at);
    assert.equal(gaps.length, 4);
    const expected = [60, 120, 240, 240];
    gaps.forEach((g, i) => assert.ok(g >= expected[i]! - 5 && g < expected[i]! + 500, `gap ${i}: ${g} ms, expected about ${expected[i]}`));
    await d.stop();
    assert.equal(d.state, "stopped");
  });

  test("a run longer than stableMs resets the backoff; a quick crash doubles it", async () => {
    const { config } = flaky();
    const { hooks, states } = recorder();
    // A stable run long enough that the second crash, a tool call right after a restart, comes well inside it
    // even on a loaded machine (at load 30 a call and a restart took over the suite's 400 ms, so that run
    // counted as stable and the second wait was 1x base).
    const timing: Timing = { ...TIMING, stableMs: 4000 };
    const d = new Downstream("flaky", config, hooks, timing);
    d.start();
    await until("running", () => d.state === "running");
    await new Promise((r) => setTimeout(r, timing.stableMs + 50));
    // The wait between the "backoff" and the next "starting" state of the latest crash.
    const crash = async () => {
      await d.client!.callTool({ name: "crash", arguments: {} });
      await until("backoff", () => d.state === "backoff");
      await until("running again", () => d.state === "running");
      const i = states.findLastIndex((s) => s.state === "backoff");
      return states[i + 1]!.at - states[i]!.at;
    };
    const first = await crash();
    const second = await crash(); // right after a restart: not stable
    // The premise: the run the second crash ended was shorter than stableMs.
    const b = states.findLastIndex((s) => s.state === "backoff");
    assert.equal(states[b - 1]!.state, "running");
    assert.ok(states[b]!.at - states[b - 1]!.at < timing.stableMs, "the second crash came inside stableMs");
    assert.ok(first >= 55 && first < 115 + 400, `first restart waited ${first} ms, expected about 60 (1x base)`);
    assert.ok(second >= 115, `second restart waited ${second} ms, expected about 120 (2x base)`);
    assert.equal(d.status().restarts, 2);
    await d.stop();
  });

  test("stop while starting leaves no process behind", async () => {
    const { config, dir } = flaky();
    const { hooks } = recorder();
    const d = new Downstream("flaky", config, hooks, TIMING);
    d.start();
    await until("the process to exist", () => {
      try {
        return starts(dir).length > 0;
      } catch {
        return false;
      }
    });
    await d.stop();
    const [pid] = starts(dir);
    assert.ok(!alive(pid!), `pid ${pid} still alive`);
    assert.equal(d.state, "stopped");
  });

  test("a disabled server is never started", async () => {
    const { config, dir } = flaky();
    const { hooks } = recorder();
    const d = new Downstream("off", { ...config, disabled: true }, hooks, TIMING);
    d.start();
    assert.equal(d.state, "disabled");
    await new Promise((r) => setTimeout(r, 200));
    assert.throws(() => starts(dir));
    await d.stop();
    assert.equal(d.state, "disabled");
  });

  test("a command that does not exist fails with a clear error", async () => {
    const { hooks } = recorder();
    const d = new Downstream("ghost", { type: "stdio", command: "/nonexistent/mcp-server", args: [], env: {}, disabled: false }, hooks, TIMING);
    d.start();
    await until("backoff", () => d.state === "backoff");
    assert.match(d.status().last_error!, /cannot start "\/nonexistent\/mcp-server": spawn \/nonexistent\/mcp-server ENOENT/);
    await d.stop();
  });
});
