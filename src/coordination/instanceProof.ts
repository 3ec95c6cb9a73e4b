// What a recorded instance (gateway.json) proves. A pid means something only on its host, within one boot
// and inside its pid namespace, and only while the process there started when the record says: status
// names a pid to kill only when all four match, and a record of a primary on another host or in another
// namespace (a container, a sandbox, an NFS home shared by two machines) is reported, never killed or used.
import { statSync, utimesSync } from "node:fs";
import { hostname } from "node:os";
import { GatewayError } from "../errors.js";
import { bootId, pidNamespace, processStartTime, readInstance, type InstanceInfo } from "./instanceFile.js";

/** A live primary refreshes its record's mtime this often, so other hosts can tell it from a stale one. */
export const HEARTBEAT_MS = 10_000;
/** A record not refreshed for this long belongs to no live primary (room for clock skew between hosts). */
export const STALE_AFTER_MS = 60_000;

/** Where a recorded primary runs, as far as this process can check. */
export type Whereabouts =
  /** Here (host, boot and pid namespace match): `alive` says whether that pid still is that process. */
  | { kind: "here"; alive: boolean }
  /** Somewhere this process cannot see: `fresh` when its heartbeat is recent. */
  | { kind: "elsewhere"; why: string; fresh: boolean };

/** What this process's own record would say. */
export function localFacts() {
  return { host: hostname(), boot_id: bootId(), pid_namespace: pidNamespace() };
}

/** Where the primary of a record runs, given the record's mtime (its heartbeat). */
export function whereabouts(info: InstanceInfo, mtimeMs: number, now = Date.now(), here = localFacts(), startTime = processStartTime): Whereabouts {
  // Every primary records its host: a record without one (the seed's, or hand-made) names no live primary.
  if (typeof info.host !== "string") return { kind: "here", alive: false };
  const differs: string[] = [];
  if (info.host !== here.host) differs.push(`host ${info.host}`);
  else if ((info.boot_id ?? null) !== here.boot_id) {
    // The same host booted since: every process of that boot is gone.
    return { kind: "here", alive: false };
  } else if ((info.pid_namespace ?? null) !== here.pid_namespace) differs.push(`pid namespace ${info.pid_namespace ?? "unknown"}`);
  if (differs.length) return { kind: "elsewhere", why: differs.join(", "), fresh: now - mtimeMs < STALE_AFTER_MS };
  const started = startTime(info.pid);
  return { kind: "here", alive: started !== null && started === info.process_start_time };
}

/** The pid status may show to kill: only one proven to be the recorded primary. */
export function provenPid(info: InstanceInfo, mtimeMs: number): number | null {
  const w = whereabouts(info, mtimeMs);
  return w.kind === "here" && w.alive && info.process_start_time !== null ? info.pid : null;
}

/** The mtime of a record, or 0 when it cannot be read. */
export function recordMtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Refreshes the record's mtime every HEARTBEAT_MS and, each time, asks `stillHeld` whether the lock is still
 * ours (a socket file can be deleted under a live primary: a logout emptying $XDG_RUNTIME_DIR, a user
 * cleaning up); `onLost` is called once when it is not. Returns the stop function.
 */
export function startHeartbeat(file: string, stillHeld: () => boolean = () => true, onLost: () => void = () => {}): () => void {
  const timer = setInterval(() => {
    if (!stillHeld()) {
      clearInterval(timer);
      onLost();
      return;
    }
    try {
      const now = new Date();
      utimesSync(file, now, now);
    } catch {
      // removed or unwritable: the next start decides by the lock and the pid
    }
  }, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * A primary recorded in the state dir that the lock cannot see but that may still be running: on another
 * host, in another pid namespace with a fresh heartbeat, or here and alive. Null when none may be.
 */
export function foreignPrimary(file: string, readInfo: (f: string) => InstanceInfo | null): { info: InstanceInfo; why: string } | null {
  const info = readInfo(file);
  if (!info) return null;
  const w = whereabouts(info, recordMtime(file));
  if (w.kind === "elsewhere") return w.fresh ? { info, why: w.why } : null;
  return w.alive && info.pid !== process.pid ? { info, why: `pid ${info.pid}, alive but not holding this lock (another mount namespace or runtime dir?)` } : null;
}

/** Throws STATE_DIR when the state dir's record names a primary that may run where this lock cannot see it. */
export function refuseForeignPrimary(instanceFile: string, stateDir: string): void {
  const other = foreignPrimary(instanceFile, (f) => {
    const r = readInstance(f);
    return r.kind === "ok" ? r.info : null;
  });
  if (other) {
    throw new GatewayError(
      "STATE_DIR",
      `${stateDir} is in use by a primary this one cannot reach (${other.why}); one state dir serves one host and namespace: give each its own CLAUDE_MPM_HOME`,
    );
  }
}
