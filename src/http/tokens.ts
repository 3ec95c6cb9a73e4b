import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { refuseNonRegular, writeFileAtomic } from "../coordination/atomicWrite.js";
import type { StatePaths } from "../coordination/paths.js";
import { GatewayError } from "../errors.js";

/** The environment variable `serve --http` reads its accepted bearer tokens from (comma-separated). */
export const TOKEN_ENV = "CLAUDE_MPM_GATEWAY_TOKEN";

/** Shortest token accepted from a user: a guessable secret would make the endpoint open. */
const MIN_TOKEN_CHARS = 16;

/** The file in the state dir that keeps the bearer token of the primary's HTTP endpoint (0600, dir 0700). */
export const HTTP_TOKEN_FILE = "http.token";

/** Where the primary keeps the bearer token of its HTTP endpoint. */
export function httpTokenPath(paths: Pick<StatePaths, "stateDir">): string {
  return join(paths.stateDir, HTTP_TOKEN_FILE);
}

/**
 * The primary's HTTP token: the one in the file, or a fresh random one written there atomically (0600).
 * The file outlives the primary, so a client configured with it keeps working across restarts.
 */
export function ensureHttpToken(file: string): string {
  const existing = readTokenFile(file, { missingOk: true });
  if (existing.length) return existing[0]!;
  const token = randomBytes(32).toString("base64url");
  try {
    writeFileAtomic(file, token + "\n", 0o600);
  } catch (err) {
    throw new GatewayError("STATE_DIR", `cannot keep the HTTP token: ${(err as Error).message}`, { cause: err });
  }
  return token;
}

/** Tokens from a file: one a line, blank lines and `#` comments ignored. A file others can read is refused. */
export function readTokenFile(file: string, opts: { missingOk?: boolean } = {}): string[] {
  let text: string;
  try {
    refuseNonRegular(file);
    if (process.platform !== "win32" && (lstatSync(file).mode & 0o077) !== 0) {
      throw new Error(`${file} can be read by other users: chmod 600 it`);
    }
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (opts.missingOk && (err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new GatewayError("USAGE", `token file: ${(err as Error).message}`, { cause: err });
  }
  return checked(
    text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#")),
    file,
  );
}

/** Tokens from CLAUDE_MPM_GATEWAY_TOKEN: one or several, comma-separated. */
export function tokensFromEnv(value: string | undefined): string[] {
  return checked((value ?? "").split(",").map((t) => t.trim()).filter(Boolean), TOKEN_ENV);
}

function checked(tokens: string[], where: string): string[] {
  for (const t of tokens) {
    if (t.length < MIN_TOKEN_CHARS) throw new GatewayError("USAGE", `${where}: a token must be at least ${MIN_TOKEN_CHARS} characters`);
    // A token travels in a header: anything outside visible ASCII could never match what a client sends.
    if (!/^[\x21-\x7e]+$/.test(t)) throw new GatewayError("USAGE", `${where}: a token may hold visible ASCII characters only`);
  }
  return tokens;
}

/**
 * Who a request comes from, as far as the gateway can tell: a digest of its accepted token (never the token
 * itself, so it can be logged and compared), or "" where no token is required.
 */
export function principalOf(token: string | undefined): string {
  return token === undefined ? "" : `bearer:${createHash("sha256").update(token, "utf8").digest("hex").slice(0, 16)}`;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return m?.[1];
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * True when `presented` is one of `accepted`. Compared as SHA-256 digests with timingSafeEqual, against
 * every accepted token, so neither the time taken nor an early exit tells how much of a guess was right.
 */
export function tokenAccepted(presented: string | undefined, accepted: readonly string[]): boolean {
  if (presented === undefined) return false;
  const p = digest(presented);
  let ok = false;
  for (const t of accepted) ok = timingSafeEqual(p, digest(t)) || ok;
  return ok;
}
