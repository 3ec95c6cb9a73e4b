import { randomUUID } from "node:crypto";
import { readFileSync, readlinkSync, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { GATEWAY_NAME, VERSION } from "../version.js";
import { writeFileAtomic, refuseNonRegular } from "./atomicWrite.js";
import type { StatePaths } from "./paths.js";

/** What gateway.json records about the running primary. Information only: the lock is the proof. */
export interface InstanceInfo {
  pid: number;
  gateway_name: string;
  version: string;
  started_at: string;
  instance_id: string;
  host: string;
  endpoint: string;
  /** The process's start time as the OS reports it, so a reused pid can be told apart. */
  process_start_time: string | null;
  /** Linux's boot id: a pid and start time mean something only within one boot. */
  boot_id?: string | null;
  /** The pid namespace (Linux), since a pid means something only inside its namespace. */
  pid_namespace?: string | null;
  executable: string;
  config_path: string;
  log_path: string;
  state_dir: string;
  /** The primary's Streamable HTTP endpoint, when config.json turns it on. */
  http_url?: string;
  /**
   * Set from a handover's drain on: connections go to the next primary `to`, which answers them once it
   * serves (`status` waits for it). Removed if the handover fails before the lock moves; the next primary
   * writes its own record.
   */
  handover?: { to: number; since: string };
}

/** The result of reading gateway.json: its content, or why there is none to trust. */
export type InstanceRead =
  | { kind: "ok"; info: InstanceInfo }
  | { kind: "missing" }
  | { kind: "invalid"; reason: string };

/** What this process records as the primary of `paths`, reachable at `endpoint` (its display name). */
export function instanceRecord(paths: StatePaths, endpoint: string): InstanceInfo {
  return {
    pid: process.pid,
    gateway_name: GATEWAY_NAME,
    version: VERSION,
    started_at: new Date().toISOString(),
    instance_id: randomUUID(),
    host: hostname(),
    endpoint,
    process_start_time: processStartTime(process.pid),
    boot_id: bootId(),
    pid_namespace: pidNamespace(),
    executable: process.execPath,
    config_path: paths.configFile,
    log_path: paths.logFile,
    state_dir: paths.stateDir,
  };
}

/** Writes gateway.json atomically with mode 0600. */
export function writeInstance(path: string, info: InstanceInfo): void {
  writeFileAtomic(path, JSON.stringify(info, null, 2) + "\n", 0o600);
}

/** Reads gateway.json without trusting it: empty, half-written or foreign content is "invalid". */
export function readInstance(path: string): InstanceRead {
  let text: string;
  try {
    refuseNonRegular(path);
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "missing" };
    return { kind: "invalid", reason: (err as Error).message };
  }
  if (!text.trim()) return { kind: "invalid", reason: "empty file" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: "invalid", reason: "not valid JSON (garbage or half-written)" };
  }
  const v = value as Partial<InstanceInfo> | null;
  if (!v || typeof v !== "object" || typeof v.pid !== "number" || typeof v.instance_id !== "string") {
    return { kind: "invalid", reason: "not a gateway instance record" };
  }
  return { kind: "ok", info: v as InstanceInfo };
}

/** Removes gateway.json, never following a link; `onlyIf` restricts removal to one instance's record. */
export function removeInstance(path: string, onlyIf?: string): boolean {
  if (onlyIf !== undefined) {
    const current = readInstance(path);
    if (current.kind !== "ok" || current.info.instance_id !== onlyIf) return false;
  }
  try {
    refuseNonRegular(path);
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The OS's start time of a process (Linux: clock ticks since boot from /proc), or null where unknown. */
export function processStartTime(pid: number): string | null {
  if (process.platform !== "linux") return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22, counted after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // A zombie (killed, not yet reaped by its new parent: init may take seconds) runs no more.
    if (fields[0] === "Z" || fields[0] === "X") return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** This boot's id (Linux), or null where the OS has none to offer. */
export function bootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
  } catch {
    return null;
  }
}

/** The pid namespace this process runs in (Linux: "pid:[4026531836]"), or null. */
export function pidNamespace(): string | null {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return null;
  }
}
