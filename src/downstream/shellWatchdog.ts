import { spawn, type ChildProcess } from "node:child_process";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import type { RecordedGroup } from "./serverRecord.js";

const log = logger("watchdog");

/**
 * The POSIX watchdog, as a `/bin/sh` script (about 1 MiB where a Node watchdog costs ~26 MiB of Pss). It
 * reads `add <pid> <start>`, `remove <pid>` and `bye` lines from its primary until the pipe closes (the
 * kernel closes it when the primary dies, even by SIGKILL, and a pipe cannot be confused with a reused pid);
 * then, unless told bye, it ends each group whose leader is still provably the process recorded: the same
 * start time as `startTimeOf` reads it (Linux: field 22 of /proc/<pid>/stat, not a zombie; elsewhere:
 * `ps -o lstart=`, compared with runs of blanks folded), SIGTERM to the group, SIGKILL to what is left after
 * ~1 s, a bounded wait for that. $0 names the gateway (so `ps` shows whose it is), $2 the start-time method.
 */
export const WATCHDOG_SCRIPT = `set -f
PATH=/usr/bin:/bin:/usr/sbin:/sbin
how=$2 pids= bye=
started() {
  now=
  if [ "$how" = proc ]; then
    [ -r "/proc/$1/stat" ] || return 0
    read -r st 2>/dev/null <"/proc/$1/stat" || return 0
    st=\${st##*) }
    set -- $st
    case $1 in Z|X) return 0;; esac
    [ $# -ge 20 ] || return 0
    shift 19
    now=$1
  else
    st=$(ps -o lstart= -p "$1" 2>/dev/null)
    set -- $st
    now="$*"
  fi
}
while read -r op pid start; do
  case $op in
  bye) bye=1;;
  add|remove)
    case $pid in ''|*[!0-9]*) continue;; esac
    if [ "$op" = add ]; then
      case $start in ''|*[!A-Za-z0-9:\\ ]*) continue;; esac
      set -- $start
      eval "s_$pid=\\$*"
      pids="$pids $pid"
    else
      unset "s_$pid"
    fi;;
  esac
done
[ -z "$bye" ] || exit 0
ours=
for pid in $pids; do
  eval "want=\\\${s_$pid-}"
  [ -n "$want" ] || continue
  unset "s_$pid"
  started "$pid"
  [ "$now" != "$want" ] || ours="$ours $pid"
done
[ -n "$ours" ] || exit 0
alive() {
  for pid in $ours; do kill -0 -"$pid" 2>/dev/null && return 0; done
  return 1
}
wait_gone() {
  n=0
  while alive && [ $n -lt 20 ]; do sleep 0.05 2>/dev/null || sleep 1; n=$((n + 1)); done
}
for pid in $ours; do kill -TERM -"$pid" 2>/dev/null; done
wait_gone
for pid in $ours; do kill -0 -"$pid" 2>/dev/null && kill -KILL -"$pid" 2>/dev/null; done
wait_gone
exit 0
`;

/** A started shell watchdog: its link, and the process (tests wait for its exit). */
export interface ShellWatchdog {
  child: ChildProcess;
  add(group: RecordedGroup): void;
  remove(pid: number): void;
  bye(): void;
  abandon(): void;
}

/**
 * Starts the shell watchdog in a session of its own (a signal to the primary's group does not reach it),
 * holding the read end of a pipe whose write end only this process has. `name` is shown as its $0.
 */
export function startShellWatchdog(name: string, platform: NodeJS.Platform = process.platform): ShellWatchdog {
  const how = platform === "linux" ? "proc" : "ps";
  const child = spawn("/bin/sh", ["-c", WATCHDOG_SCRIPT, name, "--watchdog", how], {
    cwd: "/",
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.on("error", (err) => log.warn(`watchdog not started: ${describeError(err)}; the next primary reaps what this one leaves`));
  child.stdin?.on("error", () => undefined);
  child.unref();
  // The pipe must not keep this process's event loop alive; it closes when this process exits, whatever the cause.
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let open = true;
  const send = (line: string) => {
    if (open && child.stdin?.writable) child.stdin.write(line + "\n");
  };
  const close = () => {
    open = false;
    child.stdin?.end();
  };
  return {
    child,
    // A start time the script could not take apart (a newline, a quote) is refused by it: never in our tokens.
    add: (g) => send(`add ${g.pid} ${g.start.replace(/\s+/g, " ").trim()}`),
    remove: (pid) => send(`remove ${pid}`),
    bye: () => {
      send("bye");
      close();
    },
    abandon: close,
  };
}
