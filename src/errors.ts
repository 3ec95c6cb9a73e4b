/** Codes for the gateway's own failures; the CLI maps each to a stderr line and an exit code. */
export type ErrorCode =
  | "USAGE"
  | "LOCK_HELD"
  | "PRIMARY_UNREACHABLE"
  | "PRIMARY_UNRESPONSIVE"
  | "NOT_RUNNING"
  | "AUTH_FAILED"
  | "STATE_DIR"
  | "CONFIG_INVALID"
  | "TOOL_NOT_FOUND"
  | "TOOL_FAILED"
  | "UNSUPPORTED_PLATFORM"
  | "CLIENT_CONFIG"
  | "DOWNSTREAM_FAILED"
  /** A remote server needs an OAuth sign-in (none yet, or its grant was revoked or expired). */
  | "SIGN_IN_REQUIRED"
  /** An OAuth sign-in or token request failed. */
  | "OAUTH_FAILED"
  /** A client asked for a profile config.json does not define. */
  | "PROFILE_UNKNOWN"
  /** A program to hand the gateway over to is missing, not executable, or does not answer --version. */
  | "BAD_EXECUTABLE";

/** The one error class for the gateway's own failures. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `err` is a GatewayError, optionally of the given code. */
export function isGatewayError(err: unknown, code?: ErrorCode): err is GatewayError {
  return err instanceof GatewayError && (code === undefined || err.code === code);
}

/** A one-line description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
