// Asking the running primary to hand over to a next one (`restart`, an upgrade): the client side of the
// control op "handover". The old primary starts `program` as the next primary, gives it the running
// downstream servers and the lock, moves the sessions over, answers, and exits.
import { readFileSync } from "node:fs";
import { startTimeOf } from "../downstream/processStart.js";
import { controlRequest, type Coordinates } from "./client.js";
import { isLockHeld } from "./lock.js";

/** The gateway program a primary hands over to: run as `command ...args --primary`. */
export interface HandoverProgram {
  command: string;
  args: string[];
}

/** The primary's answer to a handover request. */
export type HandoverAnswer =
  | {
      ok: true;
      /** The old primary, exiting once it has answered. */
      pid: number;
      /** The new primary, serving. */
      next_pid: number;
      /** Servers now run by the new primary, same processes. */
      handed_over: string[];
      /** Servers the new primary started afresh (not running at the time, remote, per session, or this platform). */
      restarted: string[];
    }
  | {
      ok: false;
      error: string;
      pid?: number;
      /** True when a handover cannot happen here at all (platform, an older primary): replace it by stop + start. */
      unsupported?: boolean;
      /** Refused for a passing state (starting, stopping, another handover under way): asking again later may succeed. */
      busy?: boolean;
      /** Failed past the point of no return: the old primary stops all the same, leaving no primary. */
      committed?: boolean;
      /** The primary went away without answering (killed during the handover): whichever primary now runs is the one. */
      lost?: boolean;
      /** No answer in time, and the primary asked was not shown to be gone: it may still be handing over, or be stuck. */
      unanswered?: boolean;
    };

/** How long a handover may take, start of the next primary and the drain of calls in flight included. */
export const HANDOVER_TIMEOUT_MS = 60_000;

/** How long `restart` waits for the handover's answer: HANDOVER_TIMEOUT_MS, or CLAUDE_MPM_GATEWAY_RESTART_TIMEOUT_MS; bad values are ignored. */
export function handoverTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env.CLAUDE_MPM_GATEWAY_RESTART_TIMEOUT_MS?.trim() || NaN);
  return Number.isFinite(ms) && ms > 0 ? ms : HANDOVER_TIMEOUT_MS;
}

/** The control message. */
export function handoverMessage(program: HandoverProgram): { op: "handover"; program: HandoverProgram } {
  return { op: "handover", program: { command: program.command, args: [...program.args] } };
}

/** Checks a program received over the control channel (its sender holds the token: the same user). */
export function parseProgram(value: unknown): HandoverProgram | undefined {
  const p = value as Partial<HandoverProgram> | null | undefined;
  if (!p || typeof p.command !== "string" || !p.command || !Array.isArray(p.args) || !p.args.every((a) => typeof a === "string")) return undefined;
  if (p.args.includes("--primary")) return undefined;
  return { command: p.command, args: p.args };
}

/**
 * Asks the running primary to hand over to `program`. Null when no primary answers; `{ ok: false }` when it
 * refused (it still runs, unchanged), with `unsupported` when only a stop and a fresh start can replace it
 * (an older primary answers an unknown op the same way). No answer at all is `lost` only when the process
 * asked is provably gone, else `unanswered`.
 */
export async function requestHandover(c: Coordinates, program: HandoverProgram, timeoutMs = handoverTimeoutMs()): Promise<HandoverAnswer | null> {
  if (!(await isLockHeld(c.lock))) return null;
  // Who accepted the request, with its start time: a pid alone cannot tell afterwards whether it still runs (pids are reused).
  let asked: Asked | undefined;
  const answer = await controlRequest<HandoverAnswer & { error?: string }>(c, handoverMessage(program), timeoutMs, (w) => (asked = { pid: w.pid, start: startTimeOf(w.pid) }));
  if (!answer) return await unanswered(asked, timeoutMs);
  if (answer && !answer.ok && /unknown op/.test(answer.error ?? "")) return { ...answer, unsupported: true };
  return answer;
}

interface Asked {
  pid: number;
  /** Its start time when it accepted; null where it could not be read. */
  start: string | null;
}

/** How long a primary whose connection closed may take to be seen gone (its sockets close before it exits). */
const EXIT_SEEN_MS = 3000;

/** The answer for a request that got none (a timeout, or the connection closed). */
async function unanswered(asked: Asked | undefined, timeoutMs: number): Promise<HandoverAnswer> {
  const within = `within ${Math.round(timeoutMs / 100) / 10} s`;
  if (!asked) return { ok: false, unanswered: true, error: `the primary holds the lock but did not accept the request ${within}` };
  // Gone: no process has its pid now, or another one does (started since), or it is a zombie. A process killed
  // while answering closes its sockets before it exits, so /proc still shows it running for a moment: the
  // check is retried, bounded.
  // Where start times cannot be read (a /proc mounted hidepid), the pid alone: reused within these 3 s is unlikely.
  if (await waitGone(asked.pid, EXIT_SEEN_MS, asked.start)) {
    return { ok: false, pid: asked.pid, lost: true, error: `the primary (pid ${asked.pid}) went away without answering` };
  }
  const runs = asked.start !== null ? "still runs" : "may still run (its start time cannot be read here)";
  return { ok: false, pid: asked.pid, unanswered: true, error: `the primary (pid ${asked.pid}) gave no answer ${within} and ${runs}` };
}

/**
 * Polls until `pid` is gone (processGone, or another process now has its pid when its start time `start` is
 * known), at most `ms`; true when it is.
 */
export async function waitGone(pid: number, ms: number, start: string | null = null): Promise<boolean> {
  const gone = () => processGone(pid) || (start !== null && startTimeOf(pid) !== start);
  for (const deadline = Date.now() + ms; !gone() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  return gone();
}

/** True once `pid` no longer runs (or is a zombie), so what answers next is surely not it. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
  if (process.platform !== "linux") return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}
