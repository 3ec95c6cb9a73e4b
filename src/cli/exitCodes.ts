import type { ErrorCode } from "../errors.js";

/** The process exit codes the CLI documents in --help and the README. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_RUNNING: 3,
  UNRESPONSIVE: 4,
  STATE_DIR: 5,
} as const;

/** The exit code for one of our errors. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case "USAGE":
    case "TOOL_NOT_FOUND":
    case "PROFILE_UNKNOWN":
    case "BAD_EXECUTABLE":
      return EXIT.USAGE;
    case "NOT_RUNNING":
      return EXIT.NOT_RUNNING;
    case "PRIMARY_UNRESPONSIVE":
      return EXIT.UNRESPONSIVE;
    case "STATE_DIR":
      return EXIT.STATE_DIR;
    default:
      return EXIT.FAILURE;
  }
}
