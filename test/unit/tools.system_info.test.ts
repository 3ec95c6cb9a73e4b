import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { text, toolUnderTest } from "./toolKit.js";
import * as os from "node:os";

const { registry, call } = toolUnderTest("system_info");


async function info(info_type: string): Promise<Record<string, unknown>> {
  const result = await call({ info_type });
  assert.equal(result.isError, undefined, text(result));
  const parsed = JSON.parse(text(result)) as Record<string, unknown>;
  assert.equal(parsed.info_type, info_type);
  return parsed;
}

describe("system_info", () => {
  test("lists info_type as a required enum", () => {
    const tool = registry.list().find((t) => t.name === "system_info");
    assert.ok(tool);
    assert.deepEqual(tool.inputSchema.required, ["info_type"]);
    const props = tool.inputSchema.properties as Record<string, { enum?: string[] }>;
    assert.deepEqual(props.info_type?.enum, ["platform", "memory", "cpu", "time"]);
    assert.equal(tool.annotations?.readOnlyHint, true);
  });

  test("platform reports this machine and this Node.js", async () => {
    const p = await info("platform");
    assert.equal(p.os, os.platform());
    assert.equal(p.arch, os.arch());
    assert.equal(p.release, os.release());
    assert.equal(p.hostname, os.hostname());
    assert.equal(p.node_version, process.version);
    assert.ok(typeof p.system_uptime_seconds === "number" && p.system_uptime_seconds > 0);
  });

  test("memory reports consistent byte counts and a percentage", async () => {
    const m = await info("memory");
    assert.equal(m.total_bytes, os.totalmem());
    assert.equal((m.used_bytes as number) + (m.free_bytes as number), m.total_bytes);
    const percent = m.used_percent as number;
    assert.ok(percent > 0 && percent <= 100, `used_percent ${percent}`);
    assert.ok((m.process_rss_bytes as number) > 1024 * 1024, "the gateway's own RSS is at least 1 MB");
  });

  test("cpu reports the core count and model", async () => {
    const c = await info("cpu");
    assert.equal(c.count, os.cpus().length || os.availableParallelism());
    assert.equal(typeof c.model, "string");
    if (os.platform() === "win32") {
      assert.equal(c.load_average, null);
    } else {
      const load = c.load_average as Record<string, number>;
      assert.deepEqual(Object.keys(load), ["1m", "5m", "15m"]);
      assert.ok(Math.abs((load["1m"] ?? -1) - (os.loadavg()[0] ?? 0)) < 2);
    }
  });

  test("time reports the current instant, time zone and UTC offset", async () => {
    const before = Date.now();
    const t = await info("time");
    const after = Date.now();
    const unix = t.unix_ms as number;
    assert.ok(unix >= before && unix <= after);
    assert.equal(new Date(t.iso as string).getTime(), unix);
    assert.equal(t.timezone, Intl.DateTimeFormat().resolvedOptions().timeZone);
    const offset = -new Date(unix).getTimezoneOffset();
    const expected = `${offset >= 0 ? "+" : "-"}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:${String(Math.abs(offset) % 60).padStart(2, "0")}`;
    assert.equal(t.utc_offset, expected);
  });

  test("the text is pretty-printed JSON", async () => {
    assert.match(text(await call({ info_type: "time" })), /^\{\n {2}"info_type": "time",\n/);
  });

  test("rejects an unknown info_type, a missing one and extra arguments", async () => {
    const unknown = await call({ info_type: "disk" });
    assert.equal(unknown.isError, true);
    assert.match(text(unknown), /^Invalid arguments for system_info: info_type:/);
    const missing = await call({});
    assert.equal(missing.isError, true);
    assert.match(text(missing), /info_type:/);
    const wrongType = await call({ info_type: 3 });
    assert.equal(wrongType.isError, true);
    const extra = await call({ info_type: "cpu", verbose: true });
    assert.equal(extra.isError, true);
    assert.match(text(extra), /Unrecognized key: "verbose"/);
  });
});
