import { closeSync, constants, ftruncateSync, lstatSync, openSync, unlinkSync, writeSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { GatewayError } from "../errors.js";
import { claimSocket, probeSocket } from "./pathLock.js";
import { ensurePrivateDir } from "./socketDir.js";

/**
 * How the kernel holds the lock on each platform, chosen so that it is released the instant the holder
 * dies (even by SIGKILL) and no two processes can both hold it, with no native addon:
 * - linux: a listening socket file in a 0700 dir of ours (see pathLock.ts), which is the endpoint too;
 * - win32: a named pipe server (a second server on the name gets EADDRINUSE: libuv creates the first
 *   instance with FILE_FLAG_FIRST_PIPE_INSTANCE);
 * - darwin: flock(2) taken atomically by open(2) with O_EXLOCK|O_NONBLOCK.
 */
export type LockPlan =
  | { kind: "socket-file"; file: string; privateDir?: string; display: string }
  | { kind: "pipe"; address: string; display: string }
  | { kind: "flock"; file: string; display: string };

/** Darwin's O_EXLOCK: not exported by Node's fs.constants. */
const DARWIN_O_EXLOCK = 0x20;

/** A lock this process holds until release() or death. */
export interface HeldLock {
  readonly plan: LockPlan;
  /** The listening server when the lock is a socket the primary also serves on (Linux). */
  readonly server?: Server;
  /** Records the holder's pid in gateway.lock, for people: the kernel object, not the file, is the lock. */
  notePid(lockFile: string): void;
  release(): Promise<void>;
  /** False once the lock's kernel object can no longer be found by others (its socket file deleted). */
  stillHeld?(): boolean;
}

/** Takes the lock, or returns null at once when another process holds it. */
export async function acquireLock(plan: LockPlan): Promise<HeldLock | null> {
  switch (plan.kind) {
    case "socket-file":
      return acquireSocketFile(plan);
    case "pipe":
      return acquirePipe(plan);
    case "flock":
      return acquireFlock(plan);
  }
}

/** True when some process holds the lock (checked without taking it where the platform allows). */
export async function isLockHeld(plan: LockPlan): Promise<boolean> {
  // A pipe answers a probe as a socket file does: refused or absent means no holder.
  if (plan.kind !== "flock") return (await probeSocket(plan.kind === "pipe" ? plan.address : plan.file)) === "live";
  const held = acquireFlock(plan);
  if (!held) return true;
  await held.release();
  return false;
}

/**
 * The lock a previous primary handed over (Linux): its listening socket, received over the handover channel,
 * so the lock never was free. This process did not bind the file, so closing the socket would leave it:
 * release removes it first, while it is still the one handed over (no one else can have bound its path).
 */
export function adoptSocketLock(plan: LockPlan, server: Server): HeldLock {
  if (plan.kind !== "socket-file") throw new GatewayError("UNSUPPORTED_PLATFORM", `a ${plan.kind} lock cannot be handed over`);
  const inode = () => {
    try {
      return lstatSync(plan.file, { bigint: true }).ino;
    } catch {
      return undefined;
    }
  };
  const ino = inode();
  let released: Promise<void> | undefined;
  return {
    plan,
    server,
    notePid: (lockFile) => writePid(lockFile),
    stillHeld: () => ino !== undefined && inode() === ino,
    release: () =>
      (released ??= new Promise<void>((resolve) => {
        if (ino !== undefined && inode() === ino) {
          try {
            unlinkSync(plan.file);
          } catch {
            // gone already
          }
        }
        server.close(() => resolve());
      })),
  };
}

async function acquireSocketFile(plan: Extract<LockPlan, { kind: "socket-file" }>): Promise<HeldLock | null> {
  if (plan.privateDir && typeof process.getuid === "function") ensurePrivateDir(plan.privateDir, process.getuid());
  const claimed = await claimSocket(plan.file, plan.display);
  if (!claimed) return null;
  claimed.server.unref();
  return { plan, server: claimed.server, notePid: (lockFile) => writePid(lockFile), release: claimed.release, stillHeld: claimed.stillHeld };
}

function acquirePipe(plan: Extract<LockPlan, { kind: "pipe" }>): Promise<HeldLock | null> {
  return new Promise((resolve, reject) => {
    // A connection to the lock is only ever a probe: close it at once.
    const server: Server = createServer((s) => s.destroy());
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") resolve(null);
      else reject(new GatewayError("STATE_DIR", `cannot take the gateway lock (${plan.display}): ${err.message}`, { cause: err }));
    });
    server.listen(plan.address, () => {
      server.unref();
      resolve({
        plan,
        notePid: (lockFile) => writePid(lockFile),
        release: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

function acquireFlock(plan: Extract<LockPlan, { kind: "flock" }>): HeldLock | null {
  let fd: number;
  try {
    fd = openSync(plan.file, constants.O_RDWR | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOFOLLOW | DARWIN_O_EXLOCK, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EAGAIN" || code === "EWOULDBLOCK") return null;
    throw lockFileError(plan.file, err);
  }
  let released = false;
  return {
    plan,
    notePid: () => {
      ftruncateSync(fd);
      writeSync(fd, `${process.pid}\n`);
    },
    release: async () => {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}

function writePid(lockFile: string): void {
  let fd: number;
  try {
    fd = openSync(lockFile, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw lockFileError(lockFile, err);
  }
  try {
    ftruncateSync(fd);
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
}

function lockFileError(file: string, err: unknown): GatewayError {
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    code === "EACCES" || code === "EPERM"
      ? "belongs to someone else or is read-only: remove it (it holds no state) or fix its owner"
      : code === "ELOOP"
        ? "is a symbolic link: remove it"
        : `cannot be opened (${code ?? String(err)})`;
  return new GatewayError("STATE_DIR", `lock file ${file} ${hint}`, { cause: err });
}
