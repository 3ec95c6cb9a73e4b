import { readFile, stat, statfs } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import * as z from "zod";
import { describeError } from "../errors.js";
import { defineTool, errorResult, textResult, type ToolContext } from "./types.js";

const STATUSES = ["healthy", "warning", "unhealthy"] as const;
type Status = (typeof STATUSES)[number];
const CHECK_NAMES = ["system", "gateway", "tools", "config"] as const;
type CheckName = (typeof CHECK_NAMES)[number];

interface CheckResult {
  status: Status;
  message: string;
  details?: Record<string, unknown>;
}

const worst = (statuses: Status[]): Status =>
  statuses.reduce<Status>((w, s) => (STATUSES.indexOf(s) > STATUSES.indexOf(w) ? s : w), "healthy");

function grade(percent: number, warnAbove: number, failAbove: number): Status {
  return percent > failAbove ? "unhealthy" : percent > warnAbove ? "warning" : "healthy";
}

const pct = (n: number): number => Math.round(n * 10) / 10;

/** The state dir may not exist yet on a fresh install; its filesystem is then its nearest existing ancestor's. */
async function nearestExisting(dir: string): Promise<string> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      await stat(current);
      return current;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

async function checkSystem(ctx: ToolContext): Promise<CheckResult> {
  const total = os.totalmem();
  const memPercent = pct(((total - os.freemem()) / total) * 100);
  const memory = { status: grade(memPercent, 80, 90), used_percent: memPercent, total_bytes: total };

  const cores = os.availableParallelism();
  const load1 = os.loadavg()[0] ?? 0;
  // Windows has no load average (always 0): report it as unknown rather than as an idle CPU.
  const cpu =
    os.platform() === "win32"
      ? { status: "healthy" as Status, load_percent: null, cores, note: "load average not available on Windows" }
      : { status: grade(pct((load1 / cores) * 100), 80, 95), load_percent: pct((load1 / cores) * 100), cores, load_1m: load1 };

  // Async statfs, not statfsSync: a hung network mount must lose the race against `timeout`, which a
  // synchronous call blocking the event loop would make impossible.
  const where = await nearestExisting(ctx.gateway.stateDir);
  let disk: { status: Status; path: string; used_percent?: number; free_bytes?: number; error?: string };
  try {
    const fs = await statfs(where);
    const used = (fs.blocks - fs.bfree) * fs.bsize;
    const avail = fs.bavail * fs.bsize;
    // Same formula as df: space reserved for root counts neither as used nor as available.
    const diskPercent = used + avail > 0 ? pct((used / (used + avail)) * 100) : 0;
    disk = { status: grade(diskPercent, 85, 95), path: where, used_percent: diskPercent, free_bytes: avail };
  } catch (err) {
    disk = { status: "warning", path: where, error: describeError(err) };
  }

  const cpuText = cpu.load_percent === null ? "CPU load n/a" : `CPU load ${cpu.load_percent}% of ${cores} cores`;
  const diskText = disk.used_percent === undefined ? `disk usage unknown (${disk.error})` : `disk ${disk.used_percent}% used`;
  return {
    status: worst([memory.status, cpu.status, disk.status]),
    message: `memory ${memPercent}% used, ${cpuText}, ${diskText}`,
    details: { memory, cpu, disk },
  };
}

async function checkGateway(ctx: ToolContext): Promise<CheckResult> {
  const g = ctx.gateway;
  const uptime = Math.max(0, Math.round((Date.now() - g.startedAt.getTime()) / 1000));
  const sessions = g.sessionCount();
  return {
    status: "healthy",
    message: `${g.mode} v${g.version}, up ${uptime} s, ${sessions} session${sessions === 1 ? "" : "s"}`,
    details: { mode: g.mode, version: g.version, started_at: g.startedAt.toISOString(), uptime_seconds: uptime, sessions, state_dir: g.stateDir },
  };
}

async function checkTools(ctx: ToolContext): Promise<CheckResult> {
  const names = ctx.gateway.toolNames();
  return names.length === 0
    ? { status: "unhealthy", message: "no tools are served", details: { count: 0, names } }
    : { status: "healthy", message: `${names.length} tool${names.length === 1 ? "" : "s"} served`, details: { count: names.length, names } };
}

async function checkConfig(ctx: ToolContext, signal: AbortSignal): Promise<CheckResult> {
  const file = ctx.gateway.configPath;
  let text: string;
  try {
    text = await readFile(file, { encoding: "utf8", signal });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      return { status: "healthy", message: "no config file: no downstream servers", details: { path: file, exists: false } };
    }
    return { status: "unhealthy", message: `cannot read ${file}: ${describeError(err)}`, details: { path: file } };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { status: "unhealthy", message: `${file} is not valid JSON: ${describeError(err)}`, details: { path: file } };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { status: "unhealthy", message: `${file} must hold a JSON object (with "mcpServers")`, details: { path: file } };
  }
  const servers = (parsed as { mcpServers?: unknown }).mcpServers;
  const count = typeof servers === "object" && servers !== null ? Object.keys(servers).length : 0;
  return { status: "healthy", message: `valid JSON, ${count} downstream server${count === 1 ? "" : "s"} configured`, details: { path: file, servers: count } };
}

const CHECKS: Record<CheckName, (ctx: ToolContext, signal: AbortSignal) => Promise<CheckResult>> = {
  system: checkSystem,
  gateway: checkGateway,
  tools: checkTools,
  config: checkConfig,
};

/** Checks the host's resources, the gateway itself, its tools and its config file, and grades each. */
export const healthCheckTool = defineTool({
  name: "health_check",
  title: "Health check",
  description:
    "Checks the gateway's health and returns a JSON report with an overall status (healthy, warning or unhealthy) " +
    "and one entry per check: system (memory, CPU, disk), gateway (mode, version, uptime, sessions), tools, config.",
  inputSchema: {
    check_type: z.enum(["all", ...CHECK_NAMES]).default("all").describe("Which check to run: all (default), system, gateway, tools or config."),
    detailed: z.boolean().default(false).describe("Include each check's measured values under `details`. Default false."),
    timeout: z.number().int().min(5).max(120).default(30).describe("Seconds to wait for the checks (5-120, default 30); a check still running then is reported unhealthy."),
  },
  outputSchema: {
    status: z.enum(STATUSES).describe("The worst status among the checks run."),
    checks: z.record(z.string(), z.object({ status: z.enum(STATUSES), message: z.string(), details: z.record(z.string(), z.unknown()).optional() })),
    timestamp: z.string().describe("When the report was made, ISO 8601."),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run({ check_type, detailed, timeout }, ctx) {
    if (ctx.signal.aborted) return errorResult("Health check cancelled.");
    const names = check_type === "all" ? [...CHECK_NAMES] : [check_type];
    const results = new Map<CheckName, CheckResult>();
    // Aborted on timeout or cancellation so that reads still in flight stop instead of finishing unobserved.
    const inner = new AbortController();
    const work = Promise.all(
      names.map(async (name) => {
        try {
          results.set(name, await CHECKS[name](ctx, inner.signal));
        } catch (err) {
          results.set(name, { status: "unhealthy", message: `check failed: ${describeError(err)}` });
        }
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const outcome = await Promise.race([
      work.then(() => "done" as const),
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeout * 1000))),
      new Promise<"aborted">((resolve) => ctx.signal.addEventListener("abort", (onAbort = () => resolve("aborted")), { once: true })),
    ]).finally(() => {
      clearTimeout(timer);
      if (onAbort) ctx.signal.removeEventListener("abort", onAbort);
    });
    if (outcome !== "done") inner.abort();
    if (outcome === "aborted") return errorResult("Health check cancelled.");

    const checks: Record<string, CheckResult> = {};
    for (const name of names) {
      const r = results.get(name) ?? { status: "unhealthy", message: `did not finish within ${timeout} s` };
      checks[name] = detailed || !r.details ? r : { status: r.status, message: r.message };
    }
    const report = {
      status: worst(Object.values(checks).map((c) => c.status)),
      checks,
      timestamp: new Date().toISOString(),
    };
    return textResult(JSON.stringify(report, null, 2), report);
  },
});
