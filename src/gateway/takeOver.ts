// The next primary's side of a handover, once it holds the lock: take the running servers over. See
// handOver.ts for the whole sequence.
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import type { StatePaths } from "../coordination/paths.js";
import { guardServers, reapRecorded, type ServerGuard } from "../downstream/guard.js";
import type { DownstreamManager } from "../downstream/manager.js";
import type { StdioPipes } from "../downstream/connection.js";
import type { FromOld } from "./handoverLink.js";

const log = logger("primary");

/** How long a primary started for a handover waits for the old one's lock (its drain included). */
export const LOCK_WAIT_MS = 30_000;
/** How long it then waits for the servers. */
const SERVERS_WAIT_MS = 30_000;

const destroy = (p: StdioPipes) => {
  for (const s of [p.stdin, p.stdout, p.stderr]) s.destroy();
};

/**
 * Guards this primary's downstream processes without the usual reap (the old primary is alive and hands its
 * groups over), adopts the servers it sends (recorded and watched here before the old one is told, so one
 * watchdog always covers them) and starts the rest. If the old primary goes before it has sent them all, its
 * watchdog ends them, and this one reaps what it recorded and starts every server afresh.
 */
export async function takeOver(old: FromOld, paths: StatePaths, watchdog: { command: string; args: string[] } | undefined, downstream: DownstreamManager): Promise<ServerGuard> {
  const guard = await guardServers(paths.stateDir, watchdog, "handover");
  let got: Awaited<ReturnType<FromOld["servers"]>> = null;
  try {
    got = await old.servers(SERVERS_WAIT_MS);
  } catch (err) {
    log.warn(`taking over: ${describeError(err)}`);
  }
  if (!got) {
    log.warn("the previous primary went before handing its servers over: they are started afresh");
    await reapRecorded(paths.stateDir);
    downstream.start();
    return guard;
  }
  const taken = new Set(guard.adopt(got.servers.map((s) => s.group)).map((g) => g.pid));
  const servers = got.servers.filter((s) => taken.has(s.group.pid));
  for (const s of got.servers) if (!taken.has(s.group.pid)) destroy(s.pipes);
  for (const p of got.leftovers) destroy(p);
  old.adopted([...taken]);
  log.info(`taking over ${servers.map((s) => `${s.handed.name} (pid ${s.handed.pid})`).join(", ") || "no server"}`);
  downstream.start(servers);
  return guard;
}
