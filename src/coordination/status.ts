import { existsSync } from "node:fs";
import type { SessionStatus } from "../profiles/sessionStatus.js";
import { controlRequest, type Coordinates } from "./client.js";
import { readToken, removeToken } from "./handshake.js";
import { readInstance, removeInstance, type InstanceInfo } from "./instanceFile.js";
import { foreignPrimary, provenPid, recordMtime } from "./instanceProof.js";
import { acquireLock, isLockHeld } from "./lock.js";
import { processGone } from "./handover.js";

/** One downstream server's health as the primary reports it. */
export interface DownstreamStatus {
  name: string;
  state: string;
  pid: number | null;
  tools: number;
  restarts: number;
  last_error: string | null;
}

/** What a running primary says about itself over the control channel. */
export interface PrimaryStatus extends InstanceInfo {
  uptime_s: number;
  sessions: number;
  tools: string[];
  downstream: DownstreamStatus[];
  /** Each connected session: its client, profile and the estimated tokens of what it is listed. */
  clients?: SessionStatus[];
}

/** How long a primary that holds the lock may take to answer before status calls it unresponsive. */
const STARTING_GRACE_MS = 3000;

/**
 * How long status waits for an answer while gateway.json records a handover: from its drain on, connections
 * go to the next primary, which answers once it holds the lock and serves (the drain of calls in flight and
 * the HTTP endpoint's close, 5 s each at most, come first). CLAUDE_MPM_GATEWAY_STATUS_HANDOVER_WAIT_MS
 * overrides it; bad values are ignored.
 */
export function handoverWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env.CLAUDE_MPM_GATEWAY_STATUS_HANDOVER_WAIT_MS?.trim() || NaN);
  return Number.isFinite(ms) && ms > 0 ? ms : 15_000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The answers to "does a gateway run here?", each with what the CLI shows. */
export type GatewayStatus =
  | { state: "running"; status: PrimaryStatus }
  | { state: "not-running"; stale: string[] }
  /** `pid` is set only when proven to be the recorded primary (host, boot, namespace, start time). */
  | { state: "unresponsive"; instance: InstanceInfo | null; pid: number | null }
  /** Recorded by a primary this process cannot reach or check (another host or namespace): never touched. */
  | { state: "elsewhere"; instance: InstanceInfo; why: string }
  /** A handover (restart, upgrade) under way whose next primary did not answer within `waited_ms`. */
  | { state: "handing-over"; instance: InstanceInfo; from: number; to: number; since: string; waited_ms: number };

const readOk = (file: string): InstanceInfo | null => {
  const r = readInstance(file);
  return r.kind === "ok" ? r.info : null;
};

/**
 * Asks the primary for its status. The lock, not the pid, decides: a recorded instance counts only if the
 * lock is held and its endpoint answers; leftovers of a dead primary are removed while holding the lock.
 */
export async function queryStatus(c: Coordinates): Promise<GatewayStatus> {
  const waitMs = handoverWaitMs();
  // During a handover's drain this connection goes to the next primary, which answers once it serves: one
  // connection, waited on (bounded), rather than several given up on.
  let waited = handoverUnderWay(c) !== undefined;
  const status = await controlRequest<PrimaryStatus>(c, "status", waited ? waitMs : 2000);
  if (status) return { state: "running", status };
  // Held but silent: a primary is so between taking the lock and listening (it writes its files first), and
  // an answer that fails at once (no token yet, connection refused) says nothing. Keep asking for a while
  // before calling it unresponsive; if the lock comes free meanwhile, none runs.
  const deadline = Date.now() + STARTING_GRACE_MS;
  while (await isLockHeld(c.lock)) {
    const handover = handoverUnderWay(c);
    if (handover) {
      // Waited for its next primary already: it did not answer in time, and asking again would not say more.
      if (waited) return { state: "handing-over", ...handover, waited_ms: waitMs };
      waited = true;
      const answer = await controlRequest<PrimaryStatus>(c, "status", waitMs);
      if (answer) return { state: "running", status: answer };
      continue;
    }
    if (Date.now() > deadline) {
      const instance = readOk(c.paths.instanceFile);
      return { state: "unresponsive", instance, pid: instance ? provenPid(instance, recordMtime(c.paths.instanceFile)) : null };
    }
    await sleep(100);
    const retry = await controlRequest<PrimaryStatus>(c, "status", 3000);
    if (retry) return { state: "running", status: retry };
  }
  const foreign = foreignPrimary(c.paths.instanceFile, readOk);
  if (foreign) return { state: "elsewhere", instance: foreign.info, why: foreign.why };
  return { state: "not-running", stale: await cleanStale(c) };
}

/** The handover gateway.json records, while both primaries it names are alive. */
function handoverUnderWay(c: Coordinates): { instance: InstanceInfo; from: number; to: number; since: string } | undefined {
  const instance = readOk(c.paths.instanceFile);
  const h = instance?.handover;
  if (!instance || !h || typeof h.to !== "number" || processGone(h.to) || processGone(instance.pid)) return undefined;
  return { instance, from: instance.pid, to: h.to, since: String(h.since) };
}

/** Removes a dead primary's files, only while holding the lock so a starting primary's files are safe. */
export async function cleanStale(c: Coordinates): Promise<string[]> {
  if (!existsSync(c.paths.stateDir)) return [];
  const lock = await acquireLock(c.lock);
  if (!lock) return [];
  const removed: string[] = [];
  try {
    // A record of a primary elsewhere is its own; only a provably dead one's files are ours to remove.
    if (foreignPrimary(c.paths.instanceFile, readOk)) return [];
    const read = readInstance(c.paths.instanceFile);
    if (read.kind !== "missing") {
      const what =
        read.kind === "ok"
          ? `stale gateway.json naming pid ${read.info.pid} (the lock was free, so that process is not the gateway)`
          : `unusable gateway.json (${read.reason})`;
      if (removeInstance(c.paths.instanceFile)) removed.push(`removed ${what}`);
      else removed.push(`found ${what} but could not remove ${c.paths.instanceFile}: remove it by hand`);
    }
    const token = readToken(c.paths.tokenFile);
    if (token) {
      removeToken(c.paths.tokenFile, token);
      removed.push("removed a stale gateway.token");
    }
  } finally {
    await lock.release();
  }
  return removed;
}
