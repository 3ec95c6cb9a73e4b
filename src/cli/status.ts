import { connectToPrimary, coordinatesFor } from "../coordination/client.js";
import type { StatePaths } from "../coordination/paths.js";
import { queryStatus, type GatewayStatus, type PrimaryStatus } from "../coordination/status.js";
import type { SessionStatus } from "../profiles/sessionStatus.js";
import { stopPrimary } from "../coordination/stop.js";
import { requestHandover, waitGone, type HandoverProgram } from "../coordination/handover.js";
import { httpTokenPath } from "../http/tokens.js";
import { EXIT } from "./exitCodes.js";
import { primaryProgram } from "./primaryProgram.js";
import { VERSION } from "../version.js";
import { versionRelation } from "../coordination/upgrade.js";

/** The program `status` runs as: its version beside the running one's tells whether an upgrade is due. */
const binary = () => ({ version: VERSION, path: process.execPath });

const out = (s: string) => process.stdout.write(s + "\n");

/** `status` / `--status`: exit 0 running, 3 not running, 4 lock held but unresponsive. */
export async function statusCommand(paths: StatePaths, json: boolean): Promise<number> {
  const result = await queryStatus(coordinatesFor(paths));
  out(json ? JSON.stringify(statusJson(result, paths), null, 2) : formatStatus(result, paths));
  // "elsewhere" and "handing-over" share exit 4 with "unresponsive": a primary exists that did not answer this process.
  return result.state === "running" ? EXIT.OK : result.state === "not-running" ? EXIT.NOT_RUNNING : EXIT.UNRESPONSIVE;
}

/** The stable shape `status --json` prints for scripts. */
export function statusJson(result: GatewayStatus, paths: StatePaths): Record<string, unknown> {
  switch (result.state) {
    case "running":
      return { running: true, state: "running", ...result.status, binary_version: VERSION, binary_path: binary().path };
    case "not-running":
      return { running: false, state: "not-running", state_dir: paths.stateDir, cleaned: result.stale, binary_version: VERSION, binary_path: binary().path };
    case "unresponsive":
      return { running: false, state: "unresponsive", state_dir: paths.stateDir, instance: result.instance, verified_pid: result.pid, binary_version: VERSION, binary_path: binary().path };
    case "elsewhere":
      return { running: false, state: "elsewhere", state_dir: paths.stateDir, instance: result.instance, where: result.why, binary_version: VERSION, binary_path: binary().path };
    case "handing-over": {
      const { from, to, since, waited_ms, instance } = result;
      return { running: false, state: "handing-over", state_dir: paths.stateDir, instance, from, to, since, waited_ms, binary_version: VERSION, binary_path: binary().path };
    }
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
  if (result.state === "elsewhere") {
    const i = result.instance;
    return [
      `◌ claude-mpm-gateway - running elsewhere (${result.why})`,
      rows([
        ["State dir", paths.stateDir],
        ["Recorded", `pid ${i.pid} on host ${i.host}, started ${i.started_at}`],
      ]),
      "  A primary that this process cannot reach or check uses this state dir. It was left alone: one state",
      "  dir serves one host and namespace; give each its own CLAUDE_MPM_HOME, or stop that primary where it runs.",
    ].join("\n");
  }
  if (result.state === "handing-over") {
    return [
      `◐ claude-mpm-gateway - handing over (pid ${result.from} -> ${result.to})`,
      rows([
        ["State dir", paths.stateDir],
        ["Since", result.since],
      ]),
      `  A restart or upgrade is under way: pid ${result.from} finishes its calls and hands over to pid ${result.to}, which`,
      `  answers once it serves; it did not within ${Math.round(result.waited_ms / 100) / 10} s. Clients are held meanwhile, not dropped. Ask again`,
      `  in a moment; if this lasts, see the log (${paths.logFile}).`,
    ].join("\n");
  }
  if (result.state === "unresponsive") {
    const pid = result.pid !== null ? ` (pid ${result.pid})` : "";
    const advice =
      result.pid !== null
        ? `Stop it (kill ${result.pid}) and a client will start a new one.`
        : `Its process could not be proven to be the recorded primary${result.instance ? ` (pid ${result.instance.pid} on ${result.instance.host})` : ""}, so no pid is shown to kill.`;
    return [
      `× claude-mpm-gateway - lock held but not answering${pid}`,
      rows([["State dir", paths.stateDir]]),
      `  The primary holds the lock but does not answer on its endpoint. ${advice}`,
    ].join("\n");
  }
  const s: PrimaryStatus = result.status;
  const pairs: Array<[string, string]> = [
    ["Version", s.version],
    ["This binary", `${binary().version} (${binary().path})`],
    ["PID", String(s.pid)],
    ["Started", `${s.started_at} (up ${duration(s.uptime_s)})`],
    ["Sessions", `${s.sessions} connected`],
    ["Tools", `${s.tools.length}: ${s.tools.join(", ")}`],
    ["Endpoint", s.endpoint],
    ...(s.http_url ? [["HTTP", `${s.http_url} (bearer token in ${httpTokenPath({ stateDir: s.state_dir })})`] as [string, string]] : []),
    ["State dir", s.state_dir],
    ["Config", s.config_path],
    ["Log", s.log_path],
  ];
  const lines = [`● claude-mpm-gateway - running`, rows(pairs)];
  // The lock moves to the next primary only where it is a socket (Linux): see gateway/handOver.ts.
  const differs = versionNote(s.version, binary(), paths.ownConfig, coordinatesFor(paths).lock.kind === "socket-file");
  if (differs) lines.push(`  note: ${differs}`);
  if (s.clients?.length) {
    lines.push("  Clients (tool tokens are estimates):");
    for (const c of s.clients) lines.push(`    ${formatClient(c)}`);
  }
  if (s.downstream.length) {
    lines.push("  Downstream:");
    for (const d of s.downstream) {
      const extra = [d.pid ? `pid ${d.pid}` : "", `${d.tools} tools`, `${d.restarts} restarts`, d.last_error ? `last error: ${d.last_error}` : ""];
      lines.push(`    ${d.name}: ${d.state} (${extra.filter(Boolean).join(", ")})`);
    }
  }
  return lines.join("\n");
}

/**
 * A line when the running gateway is not this binary's version, saying what happens about it. Where a
 * handover cannot keep the servers running (`keepsServers` false), a newer client does not replace the
 * primary by itself (coordination/upgrade.ts): only the user's restart does.
 */
export function versionNote(running: string, self = binary(), ownConfig?: string, keepsServers = true): string | undefined {
  const ours = `this binary (${self.version})`;
  const arg = (a: string) => (/[\s"'$\\]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a);
  const restart = [self.path, "restart", ...(ownConfig ? ["--config", ownConfig] : [])].map(arg).join(" ");
  switch (versionRelation(self.version, running)) {
    case "same":
      return undefined;
    case "newer":
      return keepsServers
        ? `${ours} is newer than the running gateway (${running}): the next client started from it upgrades the gateway in place (sessions and servers kept); to upgrade now: ${restart}`
        : `${ours} is newer than the running gateway (${running}), which stays until its clients are gone (here an upgrade restarts every server); to upgrade now (servers restarted, sessions kept): ${restart}`;
    case "older":
      return `${ours} is older than the running gateway (${running}), which stays: an older binary never replaces a newer gateway`;
    case "unordered":
      return `${ours} is not the running gateway's version (${running})`;
  }
}

/** One session: its client, profile and the estimated tokens of the tools it is listed. */
function formatClient(c: SessionStatus): string {
  const who = c.client ?? "(unnamed client)";
  if (c.problem) return `${who}: ${c.problem}`;
  const profile = c.profile ? `profile "${c.profile}"${c.search ? " (search mode)" : ""}` : "no profile";
  return `${who}: ${profile}, ${c.tools} tools, ~${c.tool_tokens} tokens`;
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

/**
 * `restart`: replace the primary by `program` (default: this program). The running one hands its downstream
 * servers and sessions over to the next one (see gateway/handover); where it cannot (another platform, an
 * older primary), it is stopped and the next one started, and bridges replay their clients' handshakes.
 */
export async function restartCommand(paths: StatePaths, program: HandoverProgram = primaryProgram(paths)): Promise<number> {
  const c = coordinatesFor(paths);
  let answer = await requestHandover(c, program);
  // A primary that is still starting (or still taking over itself) is asked again, for a while.
  for (const deadline = Date.now() + 10_000; answer && !answer.ok && /still starting/.test(answer.error) && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    answer = await requestHandover(c, program);
  }
  if (answer?.ok) {
    // What answers next must be the new primary: the old one exits right after its answer.
    await waitGone(answer.pid, 10_000);
    const kept = answer.handed_over.length ? `; servers kept running: ${answer.handed_over.join(", ")}` : "";
    const fresh = answer.restarted.length ? `; started afresh: ${answer.restarted.join(", ")}` : "";
    out(`claude-mpm-gateway restarted (pid ${answer.pid} -> ${answer.next_pid})${kept}${fresh}`);
    return EXIT.OK;
  }
  if (answer?.lost) {
    // Killed mid-handover (its process is provably gone): the next primary took over, or a fresh one starts now; either way one serves.
    const conn = await connectToPrimary(c, { kind: "control", spawn: true, program });
    conn.socket.destroy();
    out(`claude-mpm-gateway restarted (pid ${conn.welcome.pid}; the old primary (pid ${answer.pid ?? "?"}) went away during the handover)`);
    return EXIT.OK;
  }
  if (answer?.unanswered) {
    // Not shown gone: it may still finish the handover, or be stuck. Nothing here can tell which, so nothing more is claimed.
    process.stderr.write(
      `claude-mpm-gateway: restart: ${answer.error}: the handover may still be under way, or the primary is stuck; see \`claude-mpm-gateway status\` and the log (${paths.logFile})\n`,
    );
    return EXIT.UNRESPONSIVE;
  }
  if (answer && !answer.ok && answer.committed) {
    // The old primary let go of its servers and stops: a fresh primary takes its place (servers started anew).
    if (answer.pid !== undefined) await waitGone(answer.pid, 10_000);
    const conn = await connectToPrimary(c, { kind: "control", spawn: true, program });
    conn.socket.destroy();
    out(`claude-mpm-gateway restarted (pid ${answer.pid ?? "?"} -> ${conn.welcome.pid}); the handover failed after the old primary let go (${answer.error}): servers started afresh`);
    return EXIT.OK;
  }
  if (answer && !answer.unsupported) {
    process.stderr.write(`claude-mpm-gateway: restart failed, the running primary (pid ${answer.pid ?? "?"}) goes on: ${answer.error}\n`);
    return EXIT.FAILURE;
  }
  const old = await stopPrimary(c);
  const conn = await connectToPrimary(c, { kind: "control", spawn: true, program });
  conn.socket.destroy();
  out(old === null ? `claude-mpm-gateway started (pid ${conn.welcome.pid})` : `claude-mpm-gateway restarted (pid ${old} -> ${conn.welcome.pid})`);
  return EXIT.OK;
}
