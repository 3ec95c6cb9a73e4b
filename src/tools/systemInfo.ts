import * as os from "node:os";
import * as z from "zod";
import { defineTool, textResult } from "./types.js";

const INFO_TYPES = ["platform", "memory", "cpu", "time"] as const;
type InfoType = (typeof INFO_TYPES)[number];

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** "+02:00" / "-05:30" for the host's current offset from UTC. */
function utcOffset(date: Date): string {
  // getTimezoneOffset() is minutes *behind* UTC, hence the sign flip.
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

function platformInfo(): Record<string, unknown> {
  return {
    os: os.platform(),
    os_type: os.type(),
    arch: os.arch(),
    release: os.release(),
    hostname: os.hostname(),
    node_version: process.version,
    system_uptime_seconds: Math.round(os.uptime()),
    process_uptime_seconds: Math.round(process.uptime()),
  };
}

function memoryInfo(): Record<string, unknown> {
  const total = os.totalmem();
  // On Linux libuv reports MemAvailable here, so page cache does not count as "used".
  const free = os.freemem();
  const used = total - free;
  const proc = process.memoryUsage();
  return {
    total_bytes: total,
    free_bytes: free,
    used_bytes: used,
    used_percent: total > 0 ? round((used / total) * 100) : 0,
    process_rss_bytes: proc.rss,
    process_heap_used_bytes: proc.heapUsed,
  };
}

function cpuInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  const load = os.loadavg();
  return {
    model: cpus[0]?.model.trim() ?? "unknown",
    // cpus() can be empty in some sandboxes; availableParallelism() still answers there.
    count: cpus.length || os.availableParallelism(),
    // Some VMs report 0 MHz: that is "unknown", not a stopped clock.
    speed_mhz: cpus[0]?.speed || null,
    // Windows has no load average and reports zeros: say so rather than claim an idle machine.
    load_average:
      os.platform() === "win32"
        ? null
        : { "1m": round(load[0] ?? 0, 2), "5m": round(load[1] ?? 0, 2), "15m": round(load[2] ?? 0, 2) },
  };
}

function timeInfo(): Record<string, unknown> {
  const now = new Date();
  return {
    iso: now.toISOString(),
    unix_ms: now.getTime(),
    local: now.toString(),
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    utc_offset: utcOffset(now),
  };
}

const COLLECTORS: Record<InfoType, () => Record<string, unknown>> = {
  platform: platformInfo,
  memory: memoryInfo,
  cpu: cpuInfo,
  time: timeInfo,
};

/** Reports the host's platform, memory, CPU or clock, read live from the operating system. */
export const systemInfoTool = defineTool({
  name: "system_info",
  title: "System information",
  description:
    "Returns live facts about the machine the gateway runs on, as JSON: `platform` (OS, architecture, release, " +
    "hostname, Node.js version, uptime), `memory` (total/free/used bytes and percent, gateway RSS), `cpu` (model, " +
    "core count, load average) or `time` (ISO time, Unix ms, time zone, UTC offset).",
  inputSchema: {
    info_type: z
      .enum(INFO_TYPES)
      .describe("Which facts to return: platform, memory, cpu or time."),
  },
  annotations: {
    readOnlyHint: true,
    destructiveHint: false,
    // Same call, same kind of answer; the values (free memory, time) naturally move between calls.
    idempotentHint: true,
    openWorldHint: false,
  },
  async run({ info_type }) {
    const info = { info_type, ...COLLECTORS[info_type]() };
    return textResult(JSON.stringify(info, null, 2));
  },
});
