// A local server's process as the gateway runs it, apart from the MCP session over it: spawned in a group of
// its own, its stderr logged and its end reported from the first moment. A primary starts its servers this
// way before the SDK is even loaded (see prestart.ts), and its session connects over them later: nothing the
// process does meanwhile (an early exit, a spawn error, its first stderr lines) may be lost or go unhandled.
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { logger } from "../log.js";
import type { StdioServerConfig } from "./config.js";
import { killTree, spawnGroup } from "./processTree.js";

const log = logger("downstream");

/** A stderr line longer than this is cut in our log. */
const MAX_STDERR_LINE = 2000;

/** A started local server, before or while a session runs over its stdin and stdout. */
export interface StdioProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with why the process ended (exit code or signal, with its last stderr line); never rejects. */
  readonly ended: Promise<string>;
  /** Reports an end seen elsewhere (its stdout closed); the first report wins. */
  report(why: string): void;
  /** Stops its process tree, bounded by `graceMs` (see killTree). */
  stop(graceMs: number): Promise<void>;
}

/** Logs each stderr line of server `name` and keeps its last three (for the reason of a failure). */
export function lastLines(keep: string[], chunk: string, name: string): void {
  for (const raw of chunk.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (!line) continue;
    log.info(`[${name}] ${line.length > MAX_STDERR_LINE ? line.slice(0, MAX_STDERR_LINE) + "…" : line}`);
    keep.push(line.slice(0, 300));
    if (keep.length > 3) keep.shift();
  }
}

/** Starts the local server `name` in its own process group, every event of its process handled from now on. */
export function startStdio(name: string, cfg: StdioServerConfig): StdioProcess {
  const child = spawnGroup(cfg);
  const stderrTail: string[] = [];
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => lastLines(stderrTail, chunk, name));
  let report!: (why: string) => void;
  const ended = new Promise<string>((resolve) => (report = resolve));
  const tail = () => (stderrTail.length ? `: ${stderrTail[stderrTail.length - 1]}` : "");
  let stderrDone = false;
  child.stderr.once("end", () => (stderrDone = true));
  child.once("error", (err) => report(`cannot start "${cfg.command}": ${err.message}`));
  child.once("exit", (code, signal) => {
    // Its last words on stderr may still be in the pipe: wait for them a little (a grandchild may hold it open).
    const why = () => report(signal ? `killed by ${signal}${tail()}` : `exited with code ${code}${tail()}`);
    if (stderrDone) return why();
    const timer = setTimeout(why, 200);
    child.stderr.once("end", () => {
      clearTimeout(timer);
      why();
    });
  });
  return { child, ended, report: (why) => report(why), stop: (graceMs) => killTree(child, graceMs) };
}
