// Windows names its pipes in one machine-wide namespace that any local user can list (\\.\pipe\) and in
// which the first creator of a name wins. The name carries the user's SID (unique, unlike a user name that
// a domain and a local account may share) and an HMAC of the state dir under a secret only the user can
// read, so another user cannot compute it before a primary has run. What Node can and cannot set:
// - libuv creates the first instance with FILE_FLAG_FIRST_PIPE_INSTANCE, so a squatter makes our bind fail
//   (EADDRINUSE) rather than share the name; the handshake then fails, and status reports it;
// - libuv passes no security descriptor: the pipe gets the default DACL (full control for the owner,
//   LocalSystem and Administrators; read for Everyone). Node's connect opens the pipe for read and write,
//   so another non-admin user is refused at open; Node cannot set an owner-only descriptor itself;
// - \\.\pipe\ names are local, but a remote client could open \\host\pipe\name over SMB: libuv passes no
//   PIPE_REJECT_REMOTE_CLIENTS, so remote peers are kept out by the same DACL and the handshake's token.
import { createHmac, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync, readFileSync, writeSync } from "node:fs";
import { GatewayError } from "../errors.js";

/** The current user's SID from `whoami /user` (CSV, no header: "domain\\name","S-1-5-21-…"). */
export function currentSid(run: () => string = () => execFileSync("whoami", ["/user", "/fo", "csv", "/nh"], { encoding: "utf8", windowsHide: true })): string {
  const sid = /"(S-1-[0-9-]+)"/.exec(run())?.[1];
  if (!sid) throw new GatewayError("UNSUPPORTED_PLATFORM", "cannot read the current user's SID from `whoami /user`");
  return sid;
}

/** The user's 0600 secret in the state dir, created at first use (O_EXCL: of two creators, one wins). */
export function readOrCreateSecret(file: string): string {
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, randomBytes(32).toString("hex") + "\n");
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new GatewayError("STATE_DIR", `cannot create ${file}: ${(err as Error).message}`, { cause: err });
  }
  const secret = readFileSync(file, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(secret)) throw new GatewayError("STATE_DIR", `${file} is not a gateway secret: remove it (it is re-created)`);
  return secret;
}

/** The base pipe name for one user and state dir; roles append a suffix. */
export function pipeBaseName(sid: string, secret: string, dirKey: string): string {
  return `claude-mpm-gateway-${sid}-${createHmac("sha256", secret).update(dirKey).digest("hex").slice(0, 24)}`;
}
