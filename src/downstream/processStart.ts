import { execFileSync } from "node:child_process";
import { processStartTime } from "../coordination/instanceFile.js";

/**
 * When a process started, as an opaque token that differs between two processes that ever held one pid,
 * or null when the process does not exist (or the platform cannot say). What proves a recorded pid is
 * still the process we started, never a stranger that got the pid later. Linux: /proc (no process spawned);
 * macOS: `ps -o lstart=`; Windows: the process's creation time from PowerShell.
 */
export function startTimeOf(pid: number, platform: NodeJS.Platform = process.platform): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (platform === "linux") return processStartTime(pid);
  const [command, args] = startTimeCommand(pid, platform);
  try {
    const out = execFileSync(command, args, { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "ignore"], windowsHide: true }).trim();
    return out || null;
  } catch {
    return null;
  }
}

/** The command that prints a process's start time on a platform without /proc. */
export function startTimeCommand(pid: number, platform: NodeJS.Platform): [string, string[]] {
  return platform === "win32"
    ? ["powershell.exe", ["-NoProfile", "-NonInteractive", "-Command", `(Get-Process -Id ${pid} -ErrorAction Stop).StartTime.ToFileTimeUtc()`]]
    : ["ps", ["-o", "lstart=", "-p", String(pid)]];
}
