import { createHash } from "node:crypto";
import { userInfo } from "node:os";

/** The platforms the gateway coordinates on; any other is refused with a clear error. */
export type CoordinationPlatform = "linux" | "darwin" | "win32";

/** Who and where: one gateway per user and state dir, so names carry both. */
export interface Identity {
  platform: NodeJS.Platform;
  user: string;
  /** A short, stable hash of the state dir's absolute path. */
  dirHash: string;
}

/** The identity of this process for the given state dir. */
export function identityFor(stateDir: string, platform: NodeJS.Platform = process.platform): Identity {
  const user =
    typeof process.getuid === "function"
      ? String(process.getuid())
      : userInfo().username.replace(/[^A-Za-z0-9_.-]/g, "_");
  const dirHash = createHash("sha256").update(stateDir).digest("hex").slice(0, 16);
  return { platform, user, dirHash };
}

/** The size of sun_path in Linux's sockaddr_un. */
const SUN_PATH_BYTES = 108;

/**
 * A Linux abstract socket address for `name`, padded with NULs to fill sun_path. An abstract name is every
 * byte the address length covers: Node 20 binds and connects with the whole of sun_path (trailing NULs
 * included), Node 24 with the exact length, so `\0name` would be two different sockets to them. A name that
 * fills sun_path is one kernel object for both: the lock and endpoint hold whichever Node runs this code.
 */
export function abstractAddress(name: string): string {
  const head = `\0${name}`;
  return head + "\0".repeat(Math.max(0, SUN_PATH_BYTES - Buffer.byteLength(head)));
}
