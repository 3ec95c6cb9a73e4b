import { connectToPrimary, controlRequest, coordinatesFor, type Coordinates } from "../coordination/client.js";
import { isLockHeld } from "../coordination/lock.js";
import type { StatePaths } from "../coordination/paths.js";
import { queryStatus, type GatewayStatus, type PrimaryStatus } from "../coordination/status.js";
import { GatewayError } from "../errors.js";
import { EXIT } from "./exitCodes.js";

const out = (s: string) => process.stdout.write(s + "\n");

/** `status` / `--status`: exit 0 running, 3 not running, 4 lock held but unresponsive. */
export async function statusCommand(paths: StatePaths, json: boolean): Promise<number> {
  const result = await queryStatus(coordinatesFor(paths));
  out(json ? JSON.stringify(statusJson(result, paths), null, 2) : formatStatus(result, paths));
  return result.state === "running" ? EXIT.OK : result.state === "not-running" ? EXIT.NOT_RUNNING : EXIT.UNRESPONSIVE;
}

/** The stable shape `status --json` prints for scripts. */
export function statusJson(result: GatewayStatus, paths: StatePaths): Record<string, unknown> {
  switch (result.state) {
    case "running":
      return { running: true, state: "running", ...result.status };
    case "not-running":
      return { running: false, state: "not-running", state_dir: paths.stateDir, cleaned: result.stale };
    case "unresponsive":
      return { running: false, state: "unresponsive", state_dir: paths.stateDir, instance: result.instance };
  }
}

function duration(totalSeconds: number): string {
  const d = Math.floor(totalSeconds / 86400);
  const h = Math.floor((totalSeconds % 86400) / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return [d && `${d}d`, (d || h) && `${h}h`, (d || h || m) && `${m}min`, `${s}s`].filter(Boolean).join(" ");
}

function rows(pairs: Array<[string, string]>): string {
  return pairs.map(([k, v]) => `${k.padStart(12)}: ${v}`).join("\n");
}

/** Human status, laid out like `systemctl status`. */
export function formatStatus(result: GatewayStatus, paths: StatePaths): string {
  if (result.state === "not-running") {
    const lines = ["○ claude-mpm-gateway - not running", rows([["State dir", paths.stateDir]])];
    for (const s of result.stale) lines.push(`  note: ${s}`);
    lines.push("  A client that launches claude-mpm-gateway starts it.");
    return lines.join("\n");
  }
  if (result.state === "unresponsive") {
    const pid = result.instance ? ` (pid ${result.instance.pid})` : "";
    return [
      `× claude-mpm-gateway - lock held but not answering${pid}`,
      rows([["State dir", paths.stateDir]]),
      `  The primary holds the lock but does not answer on its endpoint. Stop it (kill${pid ? ` ${result.instance!.pid}` : ""}) and a client will start a new one.`,
    ].join("\n");
  }
  const s: PrimaryStatus = result.status;
  const pairs: Array<[string, string]> = [
    ["Version", s.version],
    ["PID", String(s.pid)],
    ["Started", `${s.started_at} (up ${duration(s.uptime_s)})`],
    ["Sessions", `${s.sessions} connected`],
    ["Tools", `${s.tools.length}: ${s.tools.join(", ")}`],
    ["Endpoint", s.endpoint],
    ["State dir", s.state_dir],
    ["Config", s.config_path],
    ["Log", s.log_path],
  ];
  const lines = [`● claude-mpm-gateway - running`, rows(pairs)];
  if (s.downstream.length) {
    lines.push("  Downstream:");
    for (const d of s.downstream) {
      const extra = [d.pid ? `pid ${d.pid}` : "", `${d.tools} tools`, `${d.restarts} restarts`, d.last_error ? `last error: ${d.last_error}` : ""];
      lines.push(`    ${d.name}: ${d.state} (${extra.filter(Boolean).join(", ")})`);
    }
  }
  return lines.join("\n");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForLockFree(c: Coordinates, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isLockHeld(c.lock))) return true;
    await sleep(50);
  }
  return false;
}

/** Asks the primary to stop and waits (bounded) until it has released the lock; returns its pid or null. */
async function stopPrimary(c: Coordinates): Promise<number | null> {
  let answer = await controlRequest<{ ok: boolean; pid: number }>(c, "stop");
  // A primary between taking the lock and listening answers within moments (as in `status`): ask again
  // while the lock stays held before calling it unresponsive.
  const deadline = Date.now() + 3000;
  while (!answer?.ok && Date.now() < deadline && (await isLockHeld(c.lock))) {
    await sleep(100);
    answer = await controlRequest<{ ok: boolean; pid: number }>(c, "stop");
  }
  if (!answer?.ok) {
    if (await isLockHeld(c.lock)) {
      throw new GatewayError("PRIMARY_UNRESPONSIVE", "the primary holds the lock but does not answer; see `claude-mpm-gateway status`");
    }
    return null;
  }
  if (!(await waitForLockFree(c, 10_000))) {
    throw new GatewayError("PRIMARY_UNRESPONSIVE", `the primary (pid ${answer.pid}) did not stop within 10 s`);
  }
  return answer.pid;
}

/** `stop`: shut the primary down cleanly; exit 3 when none runs. */
export async function stopCommand(paths: StatePaths): Promise<number> {
  const pid = await stopPrimary(coordinatesFor(paths));
  if (pid === null) {
    out("claude-mpm-gateway is not running");
    return EXIT.NOT_RUNNING;
  }
  out(`claude-mpm-gateway stopped (pid ${pid})`);
  return EXIT.OK;
}

/** `restart`: replace the primary; connected bridges reconnect and replay their clients' handshakes. */
export async function restartCommand(paths: StatePaths): Promise<number> {
  const c = coordinatesFor(paths);
  const old = await stopPrimary(c);
  const conn = await connectToPrimary(c, { kind: "control", spawn: true });
  conn.socket.destroy();
  out(old === null ? `claude-mpm-gateway started (pid ${conn.welcome.pid})` : `claude-mpm-gateway restarted (pid ${old} -> ${conn.welcome.pid})`);
  return EXIT.OK;
}
