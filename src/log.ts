import { closeSync, constants, openSync, renameSync, statSync, writeSync } from "node:fs";

/** Append, create, never through a symlink (O_NOFOLLOW is 0 where the platform has none: Windows). */
const APPEND_NOFOLLOW = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);

/** Severity levels, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A logger writes one line per event to stderr and, in the primary, to a size-capped file. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

interface LogSink {
  level: LogLevel;
  stderr: boolean;
  file?: string;
  maxBytes: number;
  tag: string;
}

const sink: LogSink = { level: "warn", stderr: true, maxBytes: 5 * 1024 * 1024, tag: "gateway" };

/** Parses a level name, or returns undefined when it is not one. */
export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  const v = value?.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v ?? "") ? (v as LogLevel) : undefined;
}

/** Sets where and how much the process logs; stdout is never a destination. */
export function configureLogging(options: Partial<LogSink>): void {
  Object.assign(sink, options);
}

function rotateIfLarge(file: string): void {
  try {
    if (statSync(file).size < sink.maxBytes) return;
    // One generation is kept: a gateway's log is for the last incident, not an archive.
    renameSync(file, `${file}.1`);
  } catch {
    // missing file: nothing to rotate
  }
}

function write(level: LogLevel, scope: string, msg: string): void {
  if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(sink.level)) return;
  const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${sink.tag}:${process.pid}] ${scope}: ${msg}\n`;
  if (sink.stderr) {
    try {
      process.stderr.write(line);
    } catch {
      // stderr closed: the log file still has it
    }
  }
  if (sink.file) {
    try {
      rotateIfLarge(sink.file);
      // O_NOFOLLOW: a symlink planted at the log's name must not make the primary append to another file.
      const fd = openSync(sink.file, APPEND_NOFOLLOW, 0o600);
      try {
        writeSync(fd, line);
      } finally {
        closeSync(fd);
      }
    } catch {
      // a full or read-only disk must not take the gateway down
    }
  }
}

/** A logger whose lines name the module that wrote them. */
export function logger(scope: string): Logger {
  return {
    debug: (m) => write("debug", scope, m),
    info: (m) => write("info", scope, m),
    warn: (m) => write("warn", scope, m),
    error: (m) => write("error", scope, m),
  };
}
