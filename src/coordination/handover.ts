// Asking the running primary to hand over to a next one (`restart`, an upgrade): the client side of the
// control op "handover". The old primary starts `program` as the next primary, gives it the running
// downstream servers and the lock, moves the sessions over, answers, and exits.
import { readFileSync } from "node:fs";
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
    };

/** How long a handover may take, start of the next primary and the drain of calls in flight included. */
export const HANDOVER_TIMEOUT_MS = 60_000;

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
 * (an older primary answers an unknown op the same way).
 */
export async function requestHandover(c: Coordinates, program: HandoverProgram, timeoutMs = HANDOVER_TIMEOUT_MS): Promise<HandoverAnswer | null> {
  if (!(await isLockHeld(c.lock))) return null;
  const answer = await controlRequest<HandoverAnswer & { error?: string }>(c, handoverMessage(program), timeoutMs);
  if (!answer) return { ok: false, lost: true, error: "the primary went away without answering" };
  if (answer && !answer.ok && /unknown op/.test(answer.error ?? "")) return { ...answer, unsupported: true };
  return answer;
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
