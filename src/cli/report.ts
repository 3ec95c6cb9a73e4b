import { describeError, isGatewayError } from "../errors.js";
import { GATEWAY_NAME } from "../version.js";
import { EXIT, exitCodeFor } from "./exitCodes.js";

/** Says on stderr why a command failed and returns its exit code. */
export function reportError(err: unknown): number {
  if (isGatewayError(err)) {
    process.stderr.write(`${GATEWAY_NAME}: ${err.message}\n`);
    return exitCodeFor(err.code);
  }
  // cac's own parse errors (unknown option, missing argument) are usage errors.
  if (err instanceof Error && err.name === "CACError") {
    process.stderr.write(`${GATEWAY_NAME}: ${err.message}; see --help\n`);
    return EXIT.USAGE;
  }
  process.stderr.write(`${GATEWAY_NAME}: ${describeError(err)}\n`);
  return EXIT.FAILURE;
}

/** stdout closed by its reader (`tools | head`, a client that quit): nothing left to say, and no crash. */
export function exitQuietlyOnEpipe(): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(EXIT.OK);
  });
}
