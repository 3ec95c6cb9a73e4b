// A primary handing over to the next one (`restart`, an upgrade), keeping every downstream server running:
// the old primary's side of the sequence. The next primary's side is in primary.ts (takeOver), the channel
// in handoverLink.ts.
//
// 1. Start the next primary with a channel; wait for its hello (nothing has changed yet if that fails). This
//    primary serves as usual meanwhile: the next one may take seconds to start.
// 2. Drain: new connections go to the next primary unread (it holds them until it serves); sessions are not
//    read any more; calls in flight to servers finish here (bounded).
// 3. Let go of what one primary alone may hold (heartbeat, HTTP endpoint); detach each running local server
//    (left running) and stop the others.
// 4. Point of no return: the lock's listening socket (the kernel object is never free: both hold it until
//    this process exits), then each server's pipes and what the gateway knows of it.
// 5. The next primary records and watches the groups ("adopted"); only then does this one's watchdog let go
//    of them, so there is no moment in which a crash orphans them.
// 6. Sessions close: each bridge answers what this primary left unanswered (an error, once) and reconnects,
//    to the next primary. The caller answers the requester, then exits without closing the socket.
import type { Server as NetServer, Socket } from "node:net";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import type { HandoverAnswer, HandoverProgram } from "../coordination/handover.js";
import type { DownstreamManager } from "../downstream/manager.js";
import type { ServerGuard } from "../downstream/guard.js";
import { startNext, type NextPrimary } from "./handoverLink.js";

const log = logger("primary");

/** How long the next primary may take to start and say hello (a SEA binary starts in well under a second). */
const HELLO_MS = 15_000;
/** How long calls in flight to servers may run on before the handover goes on without their answers. */
const DRAIN_MS = 5000;
/** How long the next primary may take to take the servers over once it has them. */
const ADOPT_MS = 15_000;

/** What the handing primary lets the sequence do. */
export interface HandingPrimary {
  /** The lock's listening socket (Linux); undefined where the lock cannot be handed over. */
  lockServer: NetServer | undefined;
  token: string;
  downstream: DownstreamManager;
  guard: ServerGuard | undefined;
  /** True once this primary is shutting down (a signal, `stop`): it has nothing left to hand over. */
  stopping(): boolean;
  /** The drain begins: connections this process accepts from now on go to `next`, unread. */
  draining(next: NextPrimary): void;
  /** Tells each session whose bridge can move to do so (it finishes its calls here first); returns how many. */
  moveSessions(): number;
  /** How many of those are still connected. */
  sessionsMoving(): number;
  /** Stops reading new requests from every session. */
  pauseSessions(): void;
  closeSessions(): Promise<void>;
  /** What only one primary may hold at a time stops here: the heartbeat, the HTTP endpoint. */
  letGo(): Promise<void>;
  /** The lock has moved to `next`: its files, token and socket are no longer this primary's to remove. */
  moved(next: NextPrimary): void;
}

/** How it ended: `committed` once the lock has moved or the primary is stopping (it must then go, whatever the answer). */
export interface HandoverOutcome {
  answer: HandoverAnswer;
  committed: boolean;
  next?: NextPrimary;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the sequence above. Never throws: a failure before the point of no return leaves everything as it was. */
export async function handOverTo(p: HandingPrimary, program: HandoverProgram): Promise<HandoverOutcome> {
  const pid = process.pid;
  if (!p.lockServer || process.platform === "win32") {
    return { committed: false, answer: { ok: false, pid, unsupported: true, error: `this platform's lock cannot be handed over (${process.platform})` } };
  }
  const started = Date.now();
  let next: NextPrimary;
  try {
    next = await startNext(program, HELLO_MS);
  } catch (err) {
    return { committed: false, answer: { ok: false, pid, error: describeError(err) } };
  }
  const helloAt = Date.now();
  // Stopped meanwhile (`stop`, a signal): its sessions and servers are going, so nothing is left to hand over.
  if (p.stopping()) return stoppedDuring(next, pid);
  log.info(`handing over to pid ${next.pid} (${program.command}), which said hello in ${helloAt - started} ms`);
  p.draining(next);
  // Bridges that move take their answers and leave; the others' sessions are served meanwhile, then no
  // longer read: what they send after that is answered by their bridge with an error when the session closes.
  const drainEnd = Date.now() + DRAIN_MS;
  if (p.moveSessions()) while (p.sessionsMoving() > 0 && Date.now() < drainEnd) await sleep(5);
  p.pauseSessions();
  while (p.downstream.inFlight > 0 && Date.now() < drainEnd) await sleep(5);
  if (p.downstream.inFlight > 0) log.warn(`${p.downstream.inFlight} call(s) to servers still in flight after ${DRAIN_MS} ms: their clients get an error`);
  const drained = Date.now();
  const lostWhy = next.lostWhy();
  if (lostWhy) return { committed: false, answer: { ok: false, pid, error: lostWhy } };
  if (p.stopping()) return stoppedDuring(next, pid);
  let out: Awaited<ReturnType<DownstreamManager["handOut"]>>;
  try {
    await p.letGo();
    out = await p.downstream.handOut();
    await Promise.race([next.sendLock(p.lockServer, p.token), next.lost]);
  } catch (err) {
    // The servers may be detached already: this primary cannot serve on; it stops as on `stop`.
    next.kill();
    return { committed: true, answer: { ok: false, pid, error: `handover failed before the lock moved: ${describeError(err)}` } };
  }
  p.moved(next);
  const { servers, fresh } = out;
  try {
    const groups = (p.guard?.record.groups() ?? []).filter((g) => servers.some((s) => s.handed.pid === g.pid));
    await Promise.race([next.sendServers(servers, groups), next.lost]);
    const adopted = await Promise.race([next.adopted(ADOPT_MS), next.lost]);
    p.guard?.handOff(adopted);
  } catch (err) {
    next.kill();
    return { committed: true, answer: { ok: false, pid, error: `the next primary failed while taking over: ${describeError(err)}` }, next };
  }
  await p.closeSessions();
  const names = servers.map((s) => s.handed.name);
  log.info(`handed over to pid ${next.pid} in ${Date.now() - helloAt} ms after its hello (drain ${drained - helloAt} ms): ${names.join(", ") || "no server"} kept running`);
  return { committed: true, next, answer: { ok: true, pid, next_pid: next.pid, handed_over: names, restarted: fresh } };
}

/** The primary began to stop during the handover: the next one goes, and so does this one (no primary is left). */
function stoppedDuring(next: NextPrimary, pid: number): HandoverOutcome {
  next.kill();
  return { committed: true, answer: { ok: false, pid, error: "the primary was stopped during the handover" } };
}

/** Passes a connection accepted during the handover to the next primary, or closes it (its client retries). */
export function forwardOrClose(next: NextPrimary | undefined, socket: Socket): void {
  if (!next?.forward(socket)) socket.destroy();
}
