import { createHash } from "node:crypto";
import { realpathSync, statSync } from "node:fs";
import { userInfo } from "node:os";

/** The platforms the gateway coordinates on; any other is refused with a clear error. */
export type CoordinationPlatform = "linux" | "darwin" | "win32";

/** Who and where: one gateway per user and state dir, so names carry both. */
export interface Identity {
  platform: NodeJS.Platform;
  user: string;
  /**
   * A short hash of what the file system says the state dir is, not of the path string: the same dir
   * reached through a symlink, a bind mount or another namespace gets the same key, so it gets one primary.
   */
  dirKey: string;
}

/** How the state dir is identified, injectable so each platform's rule is unit-testable anywhere. */
export interface DirProbe {
  stat(path: string): { dev: number | bigint; ino: number | bigint };
  realpath(path: string): string;
}

const realProbe: DirProbe = { stat: (p) => statSync(p, { bigint: true }), realpath: (p) => realpathSync.native(p) };

/**
 * The key of an existing state dir. POSIX: device and inode (stat follows symlinks). Windows: NTFS has no
 * stable inode through Node's stat on every volume, so the real path, case-folded as the file system
 * compares it. Throws ENOENT when the dir does not exist yet.
 */
export function stateDirKey(stateDir: string, platform: NodeJS.Platform = process.platform, probe: DirProbe = realProbe): string {
  const what = platform === "win32" ? `path:${probe.realpath(stateDir).toLowerCase()}` : (() => {
    const st = probe.stat(stateDir);
    return `dev:${st.dev}:ino:${st.ino}`;
  })();
  return createHash("sha256").update(what).digest("hex").slice(0, 16);
}

/** The user part of names: the uid on Unix, the account name elsewhere (Windows names use the SID). */
export function currentUser(): string {
  return typeof process.getuid === "function" ? String(process.getuid()) : userInfo().username.replace(/[^A-Za-z0-9_.-]/g, "_");
}

/** The identity of this process for an existing state dir. */
export function identityFor(stateDir: string, platform: NodeJS.Platform = process.platform, probe?: DirProbe): Identity {
  return { platform, user: currentUser(), dirKey: stateDirKey(stateDir, platform, probe) };
}
