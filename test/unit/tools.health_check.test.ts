import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/server";
import { Registry } from "../../src/tools/registry.js";
import { builtinTools } from "../../src/tools/builtin.js";
import type { GatewayState } from "../../src/tools/types.js";

interface Check {
  status: string;
  message: string;
  details?: Record<string, unknown>;
}
interface Report {
  status: string;
  checks: Record<string, Check>;
  timestamp: string;
}

let dir = "";
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mpm-health-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function gateway(over: Partial<GatewayState> = {}): GatewayState {
  return {
    version: "1.2.3-test",
    mode: "primary",
    startedAt: new Date(Date.now() - 90_000),
    stateDir: dir,
    configPath: path.join(dir, "config.json"),
    sessionCount: () => 3,
    toolNames: () => builtinTools.map((t) => t.name),
    ...over,
  };
}

function text(result: CallToolResult): string {
  const first = result.content[0];
  assert.equal(first?.type, "text");
  return first.text;
}

async function check(args: Record<string, unknown>, over: Partial<GatewayState> = {}, signal = new AbortController().signal): Promise<Report> {
  const result = await new Registry(builtinTools, gateway(over)).call("health_check", args, signal);
  assert.notEqual(result.isError, true, text(result));
  const report = JSON.parse(text(result)) as Report;
  assert.deepEqual(result.structuredContent, report);
  return report;
}

/** A FIFO with no writer: reading it blocks like a hung network filesystem would. */
function hungFile(name: string): { file: string; release(): Promise<void> } {
  const file = path.join(dir, name);
  execFileSync("mkfifo", [file]);
  return {
    file,
    // Opening the write end wakes the blocked reader, so no thread of the pool stays stuck after the test.
    async release() {
      for (let i = 0; i < 250; i++) {
        try {
          fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    },
  };
}

describe("health_check", () => {
  test("lists optional arguments with their enum and integer bounds", () => {
    const tool = new Registry(builtinTools, gateway()).list().find((t) => t.name === "health_check");
    assert.ok(tool);
    assert.equal((tool.inputSchema.required ?? []).length, 0);
    const props = tool.inputSchema.properties as Record<string, Record<string, unknown>>;
    assert.deepEqual(props.check_type?.enum, ["all", "system", "gateway", "tools", "config"]);
    assert.equal(props.check_type?.default, "all");
    assert.deepEqual([props.timeout?.type, props.timeout?.minimum, props.timeout?.maximum, props.timeout?.default], ["integer", 5, 120, 30]);
    assert.equal(props.detailed?.type, "boolean");
  });

  test("runs every check by default, without details", async () => {
    const report = await check({});
    assert.deepEqual(Object.keys(report.checks), ["system", "gateway", "tools", "config"]);
    assert.ok(["healthy", "warning", "unhealthy"].includes(report.status));
    for (const c of Object.values(report.checks)) assert.equal(c.details, undefined);
    assert.ok(Math.abs(Date.parse(report.timestamp) - Date.now()) < 5_000);
    assert.equal(report.checks.gateway?.status, "healthy");
    assert.equal(report.checks.tools?.status, "healthy");
    assert.match(report.checks.system?.message ?? "", /memory [\d.]+% used/);
  });

  test("overall status is the worst of the checks", async () => {
    const report = await check({});
    const rank = ["healthy", "warning", "unhealthy"];
    const worst = Math.max(...Object.values(report.checks).map((c) => rank.indexOf(c.status)));
    assert.equal(report.status, rank[worst]);
  });

  test("the gateway check reports mode, version, uptime and sessions", async () => {
    const report = await check({ check_type: "gateway", detailed: true });
    assert.deepEqual(Object.keys(report.checks), ["gateway"]);
    const g = report.checks.gateway;
    assert.match(g?.message ?? "", /^primary v1\.2\.3-test, up 9\d s, 3 sessions$/);
    assert.equal(g?.details?.sessions, 3);
    assert.equal(g?.details?.mode, "primary");
    assert.ok((g?.details?.uptime_seconds as number) >= 90);
  });

  test("the tools check lists the tools, and no tools at all is unhealthy", async () => {
    const ok = await check({ check_type: "tools", detailed: true });
    assert.equal(ok.checks.tools?.message, "5 tools served");
    assert.deepEqual(ok.checks.tools?.details?.names, builtinTools.map((t) => t.name));
    const none = await check({ check_type: "tools" }, { toolNames: () => [] });
    assert.equal(none.status, "unhealthy");
    assert.equal(none.checks.tools?.status, "unhealthy");
  });

  test("the system check measures the disk of the state dir's nearest existing ancestor", async () => {
    const report = await check({ check_type: "system", detailed: true }, { stateDir: path.join(dir, "not", "yet", "created") });
    const disk = report.checks.system?.details?.disk as Record<string, unknown>;
    assert.equal(disk.path, dir);
    assert.ok((disk.used_percent as number) >= 0 && (disk.used_percent as number) <= 100);
    const memory = report.checks.system?.details?.memory as Record<string, unknown>;
    assert.equal(memory.total_bytes, os.totalmem());
  });

  test("a missing config file is healthy: no downstream servers", async () => {
    const report = await check({ check_type: "config" });
    assert.equal(report.status, "healthy");
    assert.equal(report.checks.config?.message, "no config file: no downstream servers");
  });

  test("a valid config file is healthy and its servers are counted", async () => {
    const configPath = path.join(dir, "valid.json");
    fs.writeFileSync(configPath, JSON.stringify({ mcpServers: { a: { command: "x" }, b: { url: "http://localhost" } } }));
    const report = await check({ check_type: "config" }, { configPath });
    assert.equal(report.status, "healthy");
    assert.match(report.checks.config?.message ?? "", /2 downstream servers/);
  });

  test("an invalid config file makes the report unhealthy, as a successful call", async () => {
    const configPath = path.join(dir, "broken.json");
    fs.writeFileSync(configPath, '{ "mcpServers": { ');
    const report = await check({}, { configPath });
    assert.equal(report.status, "unhealthy");
    assert.equal(report.checks.config?.status, "unhealthy");
    assert.match(report.checks.config?.message ?? "", /broken\.json is not valid JSON/);
  });

  test("an unreadable config (a directory) is unhealthy with the error", async () => {
    const report = await check({ check_type: "config" }, { configPath: dir });
    assert.equal(report.status, "unhealthy");
    assert.match(report.checks.config?.message ?? "", /^cannot read .*EISDIR/);
  });

  test("out-of-range, fractional and mistyped arguments are rejected", async () => {
    const registry = new Registry(builtinTools, gateway());
    const signal = new AbortController().signal;
    for (const [args, pattern] of [
      [{ timeout: 4 }, /timeout: Too small/],
      [{ timeout: 121 }, /timeout: Too big/],
      [{ timeout: 5.5 }, /timeout:/],
      [{ check_type: "disk" }, /check_type:/],
      [{ detailed: "yes" }, /detailed:/],
      [{ verbose: true }, /Unrecognized key: "verbose"/],
    ] as const) {
      const result = await registry.call("health_check", { ...args }, signal);
      assert.equal(result.isError, true, JSON.stringify(args));
      assert.match(text(result), pattern);
    }
  });

  test("a check still running at the timeout is reported unhealthy after `timeout` seconds", { skip: process.platform === "win32" }, async () => {
    const hung = hungFile("hung-config.json");
    try {
      const started = Date.now();
      const report = await check({ timeout: 5 }, { configPath: hung.file });
      const elapsed = Date.now() - started;
      // Not before the timeout (a timer never fires early); the upper bound only tells "timed out" from "ran
      // on": unit files share a --test-concurrency=2 run with e2e files that start 20 processes at once.
      assert.ok(elapsed >= 4_900 && elapsed < 30_000, `took ${elapsed} ms`);
      assert.equal(report.status, "unhealthy");
      assert.deepEqual(report.checks.config, { status: "unhealthy", message: "did not finish within 5 s" });
      assert.equal(report.checks.gateway?.status, "healthy");
    } finally {
      await hung.release();
    }
  });

  test("cancellation ends the call at once with an error", { skip: process.platform === "win32" }, async () => {
    const hung = hungFile("hung-config-2.json");
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      const result = await new Registry(builtinTools, gateway({ configPath: hung.file })).call("health_check", {}, controller.signal);
      // Cancelled rather than run to the check's own 30 s timeout; the margin is for a loaded machine.
      assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
      assert.equal(result.isError, true);
      assert.equal(text(result), "Health check cancelled.");
    } finally {
      await hung.release();
    }
  });
});
