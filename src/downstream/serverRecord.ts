import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../coordination/atomicWrite.js";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
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

/** The file: which primary started which groups. */
export interface RecordFile {
  version: 1;
  owner: { pid: number; start: string | null };
  groups: RecordedGroup[];
}

/** The record of a state dir: `downstream.json`, 0600, written atomically at every change. */
export function recordPath(stateDir: string): string {
  return join(stateDir, "downstream.json");
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
  return { version: 1, owner: v.owner ?? { pid: 0, start: null }, groups };
}

/** True when the recorded leader still runs and is provably the process we started (same start time). */
export function isOurs(group: RecordedGroup): boolean {
  return startTimeOf(group.pid) === group.start;
}

/**
 * The groups this primary holds, kept in the state dir so the next primary can end what a killed one left
 * (see `reapRecorded`) or, on a handover, take them over (`adopt`, `release`).
 */
export class ServerRecord {
  private readonly held = new Map<number, RecordedGroup>();
  private readonly owner = { pid: process.pid, start: startTimeOf(process.pid) };

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

  /** Removes the file (every group ended, or handed over): returns what was held. */
  release(): RecordedGroup[] {
    const held = this.groups();
    this.held.clear();
    rmSync(this.file, { force: true });
    return held;
  }

  private write(): void {
    const data: RecordFile = { version: 1, owner: this.owner, groups: this.groups() };
    try {
      writeFileAtomic(this.file, JSON.stringify(data, null, 2) + "\n");
    } catch (err) {
      // The watchdog still holds the groups: a record not written costs only the reap after a double failure.
      log.warn(`cannot record downstream processes: ${describeError(err)}`);
    }
  }
}
