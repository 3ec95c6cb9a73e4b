import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../coordination/atomicWrite.js";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import { bootId, pidNamespace } from "../coordination/instanceFile.js";
import { startTimeOf } from "./processStart.js";

const log = logger("downstream");

/**
 * One downstream server's process group as recorded: the leader's pid (the group id on POSIX, where each
 * server runs in a session of its own; the root of its tree on Windows) and its start time, which proves
 * the pid still names that process and not a stranger that got the pid later.
 */
export interface RecordedGroup {
  pid: number;
  start: string;
  /** What runs there, for the log: the command and its first argument. */
  label: string;
}

/** Who wrote a record: its pid and start time, and where that pid means something (host, boot, pid namespace). */
export interface RecordOwner {
  pid: number;
  start: string | null;
  host?: string;
  boot?: string | null;
  pidns?: string | null;
}

/** The file: which primary started which groups. */
export interface RecordFile {
  version: 1;
  owner: RecordOwner;
  groups: RecordedGroup[];
}

/** The record of a state dir's primary: `downstream.json`, 0600, written atomically at every change. */
export function recordPath(stateDir: string): string {
  return join(stateDir, "downstream.json");
}

const REPLICA_RECORD = /^downstream\.serve-[0-9a-z-]+\.json$/;

/**
 * A new record of a `serve --http` replica: one file per replica (any number may share a state dir), named
 * with its pid and a random part so replicas of other hosts or pid namespaces on a shared volume never collide.
 */
export function replicaRecordPath(stateDir: string): string {
  return join(stateDir, `downstream.serve-${process.pid}-${randomBytes(4).toString("hex")}.json`);
}

/** The records of the replicas of a state dir, live ones included. */
export function replicaRecords(stateDir: string): string[] {
  try {
    return readdirSync(stateDir)
      .filter((f) => REPLICA_RECORD.test(f))
      .map((f) => join(stateDir, f));
  } catch {
    return [];
  }
}

/** This process as a record's owner. */
function ownerSelf(): RecordOwner {
  return { pid: process.pid, start: startTimeOf(process.pid), host: hostname(), boot: bootId(), pidns: pidNamespace() };
}

/**
 * Whether a record's owner is provably gone, so what it recorded may be ended: "gone" (its pid no longer
 * names it), "alive", "elsewhere" (another host, boot or pid namespace: its pid means nothing here, never
 * touched) or "rebooted" (the record predates this boot: every process in it is gone already).
 */
export function ownerState(owner: RecordOwner): "gone" | "alive" | "elsewhere" | "rebooted" {
  const self = ownerSelf();
  if (owner.host !== undefined && owner.host !== self.host) return "elsewhere";
  if (owner.pidns && self.pidns && owner.pidns !== self.pidns) return "elsewhere";
  if (owner.boot && self.boot && owner.boot !== self.boot) return "rebooted";
  const now = startTimeOf(owner.pid);
  return now !== null && (owner.start === null || now === owner.start) ? "alive" : "gone";
}

/** Reads a record; undefined when there is none or it cannot be understood (nothing in it is then trusted). */
export function readRecord(file: string): RecordFile | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  const v = value as Partial<RecordFile> | null;
  if (!v || v.version !== 1 || !Array.isArray(v.groups)) return undefined;
  const groups = v.groups.filter(
    (g): g is RecordedGroup => !!g && Number.isInteger(g.pid) && g.pid > 0 && typeof g.start === "string" && g.start.length > 0 && typeof g.label === "string",
  );
  const owner = v.owner && Number.isInteger(v.owner.pid) ? v.owner : { pid: 0, start: null };
  return { version: 1, owner, groups };
}

/** True when the recorded leader still runs and is provably the process we started (same start time). */
export function isOurs(group: RecordedGroup): boolean {
  return startTimeOf(group.pid) === group.start;
}

/**
 * The groups this primary holds, kept in the state dir so the next primary can end what a killed one left
 * (see `reapRecorded`) or, on a handover, take them over (`adopt`, `handOff`).
 */
export class ServerRecord {
  private readonly held = new Map<number, RecordedGroup>();
  private readonly owner = ownerSelf();
  /** The file belongs to the next primary: nothing is written or removed any more. */
  private handedOff = false;

  constructor(readonly file: string) {}

  /** Records a server just started; false when its start time cannot be read (it then cannot be proven ours later). */
  add(pid: number, label: string): RecordedGroup | undefined {
    const start = startTimeOf(pid);
    if (!start) return undefined;
    const group = { pid, start, label };
    this.held.set(pid, group);
    this.write();
    return group;
  }

  /** Forgets a group that is gone. */
  remove(pid: number): void {
    if (this.held.delete(pid)) this.write();
  }

  /** Takes over groups another primary handed over (they must still be provably what was recorded). */
  adopt(groups: RecordedGroup[]): RecordedGroup[] {
    const taken = groups.filter(isOurs);
    for (const g of taken) this.held.set(g.pid, g);
    this.write();
    return taken;
  }

  /** The groups held now. */
  groups(): RecordedGroup[] {
    return [...this.held.values()];
  }

  /**
   * Gives groups to the next primary (which records them in the file from now on): they are forgotten here,
   * and this record never writes the file again.
   */
  handOff(pids: number[]): void {
    for (const pid of pids) this.held.delete(pid);
    this.handedOff = true;
  }

  /** Removes the file (every group ended, or handed over): returns what was held. */
  release(): RecordedGroup[] {
    const held = this.groups();
    this.held.clear();
    if (!this.handedOff) rmSync(this.file, { force: true });
    return held;
  }

  private write(): void {
    if (this.handedOff) return;
    const data: RecordFile = { version: 1, owner: this.owner, groups: this.groups() };
    try {
      writeFileAtomic(this.file, JSON.stringify(data, null, 2) + "\n");
    } catch (err) {
      // The watchdog still holds the groups: a record not written costs only the reap after a double failure.
      log.warn(`cannot record downstream processes: ${describeError(err)}`);
    }
  }
}
