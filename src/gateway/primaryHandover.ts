// A running primary's side of a handover (`restart`, an upgrade): answering the control request, and where
// the connections this primary accepts meanwhile go. The sequence itself is in handOver.ts, the channel in
// handoverLink.ts, the next primary's side in takeOver.ts.
import type { Server as NetServer, Socket } from "node:net";
import { logger } from "../log.js";
import { VERSION } from "../version.js";
import { parseProgram, type HandoverProgram } from "../coordination/handover.js";
import { upgradeRefusal } from "../coordination/upgrade.js";
import type { DownstreamManager } from "../downstream/manager.js";
import type { ServerGuard } from "../downstream/guard.js";
import { answerControl } from "./control.js";
import { forwardOrClose, handOverTo, type HandoverOutcome } from "./handOver.js";
import type { NextPrimary } from "./handoverLink.js";
import type { SessionTable } from "./sessionTable.js";

const log = logger("primary");

/** How long a primary that handed over waits for its answer to reach the requester before it exits anyway. */
const ANSWER_MS = 2000;

/** What the primary lends its handover side. */
export interface HandoverHost {
  /** The process ends at once after a handover (the CLI's `--primary`); without it none is made (see PrimaryOptions). */
  exitsAfterHandover: boolean;
  lockServer: NetServer | undefined;
  token: string;
  downstream: DownstreamManager;
  sessions: SessionTable;
  /** Set once the primary's servers are guarded: before that it has nothing it could hand on safely. */
  guard(): ServerGuard | undefined;
  /** True once it is shutting down. */
  stopping(): boolean;
  /** Lets go of what one primary alone may hold: the heartbeat, the HTTP endpoint. */
  letGo(): Promise<void>;
  /** Off while a handover runs; armed again when one fails. */
  linger(on: boolean): void;
  /** Records in gateway.json that connections go to the next primary `to` (from the drain on); undefined: no more. */
  recordHandover(to: number | undefined): void;
  shutdown(why: string, fatal: boolean, handedTo?: NextPrimary): void;
}

/** One primary's handovers: at most one at a time. */
export class PrimaryHandover {
  /** Set while a handover runs: `to` from its drain on, `moved` once the lock has moved. */
  private running?: { to?: NextPrimary; moved?: NextPrimary };

  constructor(private readonly host: HandoverHost) {}

  /** True while a handover runs. */
  get active(): boolean {
    return this.running !== undefined;
  }

  /** The next primary once the lock has moved to it: the token, socket file and lock are then its own too. */
  get movedTo(): NextPrimary | undefined {
    return this.running?.moved;
  }

  /**
   * Takes a connection accepted from the drain on: passed on unread to the next primary, which holds it until
   * it serves (and drops it if its client gives up meanwhile). False before the drain: this primary serves it.
   */
  take(socket: Socket): boolean {
    const to = this.running?.to;
    if (!to) return false;
    forwardOrClose(to, socket);
    return true;
  }

  /** At shutdown: a next primary that never got the lock is ended with the handover. */
  abandon(): void {
    if (!this.running?.moved) this.running?.to?.kill();
  }

  /** Answers a `handover` control request: refused or failed (this primary goes on), or done (this one goes). */
  serve(socket: Socket, msg: unknown): void {
    const program = parseProgram((msg as { program?: unknown }).program);
    if (!program) return answerControl(socket, { ok: false, pid: process.pid, error: "handover: a program { command, args } without --primary is required" });
    // An automatic upgrade (a newer bridge's request) goes only to a program newer than this one.
    void upgradeRefusal(msg, VERSION).then(async (refusal) => {
      if (refusal !== undefined) {
        log.info(`upgrade refused: ${refusal}`);
        return answerControl(socket, { ok: false, pid: process.pid, error: refusal });
      }
      const { answer, committed, next } = await this.handOver(program);
      if (!committed) return answerControl(socket, answer);
      // Past the point of no return this process goes, whether or not the requester is still there to
      // hear (Ctrl-C on `restart`, its timeout): answered first when it can, once flushed or at the latest
      // after ANSWER_MS; at once when it left already ("close" has fired then and never fires again).
      const go = () => this.host.shutdown(answer.ok ? `handed over to pid ${answer.next_pid}` : "the handover failed", false, answer.ok ? next : undefined);
      if (socket.destroyed) return go();
      setTimeout(go, ANSWER_MS).unref();
      socket.once("close", go);
      // A failure now has the old primary stop all the same: `committed` tells the requester to start one.
      socket.end(JSON.stringify(answer.ok ? answer : { ...answer, committed: true }) + "\n", go);
    });
  }

  private async handOver(program: HandoverProgram): Promise<HandoverOutcome> {
    const h = this.host;
    if (!h.exitsAfterHandover) return { committed: false, answer: { ok: false, pid: process.pid, unsupported: true, error: "a primary run in a script cannot hand over" } };
    // Before its servers are guarded (still starting, or still taking over from its own predecessor) a primary has nothing it could hand on safely.
    const busy = h.stopping() ? "the primary is stopping" : this.running ? "a handover is in progress" : !h.guard() ? "the primary is still starting; try again" : undefined;
    if (busy) return { committed: false, answer: { ok: false, pid: process.pid, error: busy, busy: true } };
    const state: { to?: NextPrimary; moved?: NextPrimary } = {};
    this.running = state;
    h.linger(false);
    const listening = h.lockServer as (NetServer & { pauseOnConnect: boolean }) | undefined;
    const outcome = await handOverTo(
      {
        lockServer: h.lockServer,
        token: h.token,
        downstream: h.downstream,
        guard: h.guard(),
        stopping: () => h.stopping(),
        draining: (next) => {
          // Accepted without reading a byte, to be passed on whole (a bridge that moved reconnects at once and
          // is served as soon as the next primary serves). Until now this primary served them itself.
          if (listening) listening.pauseOnConnect = true;
          state.to = next;
          h.recordHandover(next.pid);
        },
        moveSessions: () => h.sessions.move(),
        sessionsMoving: () => h.sessions.moving,
        pauseSessions: () => h.sessions.pause(true),
        closeSessions: () => h.sessions.closeAll(),
        letGo: () => h.letGo(),
        moved: (next) => (state.moved = next),
      },
      program,
    );
    if (!outcome.answer.ok) log.warn(`handover to ${program.command} failed${outcome.committed ? "; this primary stops" : "; this primary goes on"}: ${outcome.answer.error}`);
    if (!outcome.committed) {
      // Connections passed on to the next primary, now ended, are closed with it: their clients retry.
      if (state.to) h.recordHandover(undefined);
      this.running = undefined;
      if (listening) listening.pauseOnConnect = false;
      h.sessions.pause(false);
      h.linger(true);
    }
    return outcome;
  }
}
