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
