import { spawn, type ChildProcess } from "node:child_process";
import { homedir } from "node:os";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import { endGroups } from "./processTree.js";
import { isOurs, type RecordedGroup } from "./serverRecord.js";
import { startShellWatchdog } from "./shellWatchdog.js";

const log = logger("watchdog");

/** After the primary is gone, each group gets this long after SIGTERM before SIGKILL (all within ~2 s). */
const WATCHDOG_GRACE_MS = 1000;

type Message = { op: "add"; group: RecordedGroup } | { op: "remove"; pid: number } | { op: "bye" };

/** The primary's end of its watchdog: a pipe on which it tells which process groups to end if it dies. */
export interface WatchdogLink {
  add(group: RecordedGroup): void;
  remove(pid: number): void;
  /** The primary ends cleanly with its servers stopped: the watchdog exits with nothing to do. */
  bye(): void;
  /** Closes the pipe without a bye: the watchdog ends every group it still holds, then exits. */
  abandon(): void;
}

/**
 * Starts the watchdog of this primary, in a process group of its own (a signal to the primary's group does
 * not reach it), holding the read end of a pipe whose write end only the primary has. When the primary dies,
 * even by SIGKILL, the kernel closes the pipe and the watchdog ends the groups it was told of. On POSIX it is
 * a `/bin/sh` script (see shellWatchdog: ~1 MiB instead of a whole Node process); on Windows, which has no
 * such shell, the same program in its internal `--watchdog` mode.
 */
export function startWatchdog(program: { command: string; args: string[] }, platform: NodeJS.Platform = process.platform): WatchdogLink {
  if (platform !== "win32") {
    const { add, remove, bye, abandon } = startShellWatchdog(program.command, platform);
    return { add, remove, bye, abandon };
  }
  const child: ChildProcess = spawn(program.command, [...program.args, "--watchdog"], {
    cwd: homedir(),
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
    windowsHide: true,
  });
  child.on("error", (err) => log.warn(`watchdog not started: ${describeError(err)}; the next primary reaps what this one leaves`));
  child.stdin?.on("error", () => undefined);
  child.unref();
  // The pipe must not keep the primary's event loop alive; it closes when the primary exits, whatever the cause.
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let open = true;
  const send = (m: Message) => {
    if (open && child.stdin?.writable) child.stdin.write(JSON.stringify(m) + "\n");
  };
  const close = () => {
    open = false;
    child.stdin?.end();
  };
  return {
    add: (group) => send({ op: "add", group }),
    remove: (pid) => send({ op: "remove", pid }),
    bye: () => {
      send({ op: "bye" });
      close();
    },
    abandon: close,
  };
}

/**
 * `--watchdog` (Windows, and a primary of an older version during an upgrade): reads the primary's messages until its pipe closes; then, unless the primary said bye, ends
 * every group still held that is provably the process recorded. Resolves with the exit code.
 */
export async function runWatchdog(input: Readable): Promise<number> {
  const held = new Map<number, RecordedGroup>();
  let bye = false;
  // Ends when the pipe closes: the primary said bye, or it is gone (exit, crash, SIGKILL). A broken pipe
  // is the same news as a closed one.
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      let m: Message;
      try {
        m = JSON.parse(line) as Message;
      } catch {
        continue;
      }
      if (m.op === "add" && m.group && Number.isInteger(m.group.pid)) held.set(m.group.pid, m.group);
      else if (m.op === "remove") held.delete(m.pid);
      else if (m.op === "bye") bye = true;
    }
  } catch {
    // read error: handled as the end of the pipe
  }
  if (bye || held.size === 0) return 0;
  await endGroups([...held.values()], isOurs, WATCHDOG_GRACE_MS);
  return 0;
}
