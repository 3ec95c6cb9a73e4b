// The gate in front of the handshake. Before a peer has proved the token it costs the primary a descriptor,
// a timer and an HMAC, so unauthenticated connections are capped and given a short deadline: a flood (from
// the same user: no one else can reach the socket's dir) is refused at once beyond the cap, and the
// primary's descriptors stay bounded while its own clients keep being served. Refusals are summed and
// logged at most once per window, off the accept path, so a flood cannot fill the disk or rotate the real
// log away.
import type { Socket } from "node:net";
import { describeError } from "../errors.js";
import { CLOSED_UNREAD } from "./handshake.js";

/** How the gate bounds connections that have not authenticated yet. */
export interface AdmissionOptions {
  /** At most this many connections may be in the handshake at once (default 32). */
  maxPending?: number;
  /** A connection not authenticated within this long is closed (default 3 s). */
  deadlineMs?: number;
  /** Refusals are summed over this window, one log line each (default 10 s). */
  windowMs?: number;
  warn(message: string): void;
  debug?(message: string): void;
}

/** Runs handshakes under the cap and deadline; resolves null for a connection that was refused. */
export interface Admission {
  admit<T>(socket: Socket, handshake: () => Promise<T>): Promise<T | null>;
  /** Connections in the handshake now. */
  readonly pending: number;
  /** Stops the summary timer and logs what is left. */
  close(): void;
}

/** A gate for one listening endpoint. */
export function createAdmission(opts: AdmissionOptions): Admission {
  const maxPending = opts.maxPending ?? 32;
  const deadlineMs = opts.deadlineMs ?? 3000;
  const windowMs = opts.windowMs ?? 10_000;
  let pending = 0;
  const reasons = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;

  const flush = () => {
    if (reasons.size === 0) return;
    const total = [...reasons.values()].reduce((a, b) => a + b, 0);
    const why = [...reasons].map(([r, n]) => `${n}× ${r}`).join("; ");
    reasons.clear();
    opts.warn(`refused ${total} unauthenticated connection${total === 1 ? "" : "s"} in the last ${Math.round(windowMs / 1000)} s: ${why}`);
  };
  const note = (reason: string) => {
    if (reason.includes(CLOSED_UNREAD)) {
      opts.debug?.(`connection closed before its hello (a probe)`);
      return;
    }
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    // The first refusal of a quiet period is logged at once (asynchronously), later ones with the summary.
    if (!timer) {
      setImmediate(flush);
      timer = setTimeout(() => {
        timer = undefined;
        flush();
      }, windowMs);
      timer.unref();
    }
  };

  return {
    get pending() {
      return pending;
    },
    async admit<T>(socket: Socket, handshake: () => Promise<T>): Promise<T | null> {
      if (pending >= maxPending) {
        socket.destroy();
        note(`over the limit of ${maxPending} connections awaiting authentication`);
        return null;
      }
      pending++;
      const deadline = setTimeout(() => socket.destroy(), deadlineMs);
      try {
        return await handshake();
      } catch (err) {
        socket.destroy();
        note(describeError(err).replace(/^connection refused: /, ""));
        return null;
      } finally {
        clearTimeout(deadline);
        pending--;
      }
    },
    close() {
      clearTimeout(timer);
      timer = undefined;
      flush();
    },
  };
}
