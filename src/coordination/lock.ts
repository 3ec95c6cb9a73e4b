import { closeSync, constants, ftruncateSync, openSync, writeSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { GatewayError } from "../errors.js";
import { abstractAddress, type Identity } from "./identity.js";

/**
 * How the kernel holds the lock on each platform, chosen so that it is released the instant the holder
 * dies (even by SIGKILL) and no two processes can both hold it, with no native addon:
 * - linux: a listening socket in the abstract namespace (a second bind gets EADDRINUSE);
 * - win32: a named pipe server (a second server on the name gets EADDRINUSE);
 * - darwin: flock(2) taken atomically by open(2) with O_EXLOCK|O_NONBLOCK.
 */
export type LockPlan =
  | { kind: "socket"; address: string; display: string }
  | { kind: "flock"; file: string; display: string };

/** Darwin's O_EXLOCK: not exported by Node's fs.constants. */
const DARWIN_O_EXLOCK = 0x20;

/**
 * Chooses the lock mechanism for a platform. `role` names the lock: "lock" is the primary's; "spawn" is held
 * by the one client that starts a primary, so a crowd of clients that lose their primary together does not
 * start a crowd of primaries.
 */
export function lockPlan(id: Identity, lockFile: string, role: "lock" | "spawn" = "lock"): LockPlan {
  const name = `claude-mpm-gateway-${id.user}-${id.dirHash}-${role}`;
  switch (id.platform) {
    case "linux":
      return { kind: "socket", address: abstractAddress(name), display: `abstract socket @${name}` };
    case "win32":
      return { kind: "socket", address: `\\\\.\\pipe\\${name}`, display: `named pipe \\\\.\\pipe\\${name}` };
    case "darwin":
      return { kind: "flock", file: lockFile, display: `flock on ${lockFile}` };
    default:
      throw new GatewayError("UNSUPPORTED_PLATFORM", `claude-mpm-gateway cannot coordinate on ${id.platform}: use --standalone`);
  }
}

/** A lock this process holds until release() or death. */
export interface HeldLock {
  readonly plan: LockPlan;
  /** Records the holder's pid in gateway.lock, for people: the kernel object, not the file, is the lock. */
  notePid(lockFile: string): void;
  release(): Promise<void>;
}

/** Takes the lock, or returns null at once when another process holds it. */
export async function acquireLock(plan: LockPlan): Promise<HeldLock | null> {
  return plan.kind === "socket" ? acquireSocketLock(plan) : acquireFlock(plan);
}

/** True when some process holds the lock (checked without taking it where the platform allows). */
export async function isLockHeld(plan: LockPlan): Promise<boolean> {
  if (plan.kind === "socket") return probeSocket(plan.address);
  const held = acquireFlock(plan);
  if (!held) return true;
  await held.release();
  return false;
}

function acquireSocketLock(plan: Extract<LockPlan, { kind: "socket" }>): Promise<HeldLock | null> {
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

function probeSocket(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(address);
    const done = (held: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(held);
    };
    // A holder too busy to accept within a second still holds the lock.
    const timer = setTimeout(() => done(true), 1000);
    socket.once("connect", () => done(true));
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code !== "ECONNREFUSED" && err.code !== "ENOENT"));
  });
}
