import { rmSync } from "node:fs";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import { endGroups, trackGroups } from "./processTree.js";
import { isOurs, ownerState, readRecord, recordPath, replicaRecordPath, replicaRecords, ServerRecord, type RecordedGroup } from "./serverRecord.js";
import { startWatchdog } from "./watchdog.js";

const log = logger("downstream");

/** How long a previous primary's leftovers get between SIGTERM and SIGKILL. */
const REAP_GRACE_MS = 1000;

/** What the primary holds over its downstream processes for as long as it runs. */
export interface ServerGuard {
  readonly record: ServerRecord;
  /** Takes over groups a previous primary hands over (still provably what it recorded): recorded and watched. */
  adopt(groups: RecordedGroup[]): RecordedGroup[];
  /** The next primary now records and watches these groups: this one forgets them and leaves the file to it. */
  handOff(pids: number[]): void;
  /** After the servers were stopped: the watchdog leaves with nothing to do and the record goes. */
  close(): void;
}

/** Ends what a previous primary of this state dir recorded and left behind, and forgets the record. */
export function reapRecorded(stateDir: string): Promise<void> {
  return reap(recordPath(stateDir), "a previous primary");
}

/**
 * Makes sure no downstream process outlives this process: first ends what a predecessor recorded and left
 * behind (killed before its watchdog could act, or with it), then records every server process group this
 * process starts, in the state dir and with a watchdog started from `program`.
 * The primary (one per state dir) keeps `downstream.json` and reaps the previous primary's; a primary
 * started for a handover (`role: "handover"`) reaps nothing (its predecessor is alive and hands its groups
 * over, adopted with `adopt`) and takes the file over at its first write. A `serve --http`
 * replica (`role: "replica"`, any number per state dir) keeps a record of its own and reaps only the records
 * of replicas provably gone: never a live replica's servers, never the primary's.
 */
export async function guardServers(stateDir: string, program: { command: string; args: string[] } | undefined, role: "primary" | "handover" | "replica" = "primary"): Promise<ServerGuard> {
  const file = role === "replica" ? replicaRecordPath(stateDir) : recordPath(stateDir);
  if (role === "primary") await reap(recordPath(stateDir), "a previous primary");
  else for (const other of replicaRecords(stateDir)) await reap(other, "a replica that is gone", true);
  const record = new ServerRecord(file);
  const watchdog = program ? startWatchdog(program) : undefined;
  trackGroups({
    started: (pid, label) => {
      const group = record.add(pid, label);
      if (group) watchdog?.add(group);
      else log.warn(`pid ${pid} (${label}): start time unknown; it cannot be ended after a crash of this primary`);
    },
    ended: (pid) => {
      record.remove(pid);
      watchdog?.remove(pid);
    },
  });
  return {
    record,
    adopt: (groups) => {
      const taken = record.adopt(groups);
      for (const g of taken) watchdog?.add(g);
      return taken;
    },
    handOff: (pids) => {
      // The next primary's watchdog covers them already (it said so): only now does this one let go.
      for (const pid of pids) watchdog?.remove(pid);
      record.handOff(pids);
    },
    close: () => {
      trackGroups(undefined);
      if (record.groups().length) {
        // Something survived the stop: the watchdog ends it, and the record stays for the next primary.
        watchdog?.abandon();
        return;
      }
      watchdog?.bye();
      record.release();
    },
  };
}

/** Ends what the record `file` holds and removes it; with `onlyIfGone`, only when its owner is provably gone. */
async function reap(file: string, who: string, onlyIfGone = false): Promise<void> {
  const previous = readRecord(file);
  if (onlyIfGone) {
    const state = previous ? ownerState(previous.owner) : "gone";
    if (state === "alive" || state === "elsewhere") return;
    // A record from before this boot names processes that no longer exist: only the file goes.
    if (state === "rebooted") previous!.groups = [];
  }
  if (previous?.groups.length) {
    const ended = await endGroups(previous.groups, isOurs, REAP_GRACE_MS);
    if (ended) log.warn(`ended ${ended} downstream process group(s) ${who} (pid ${previous.owner.pid}) left behind`);
  }
  try {
    rmSync(file, { force: true });
  } catch (err) {
    log.warn(`cannot remove ${file}: ${describeError(err)}`);
  }
}
