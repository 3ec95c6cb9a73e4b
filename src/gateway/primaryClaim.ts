// What a primary takes before its runtime (the MCP SDK, sessions, the downstream manager) is even loaded: the
// lock first, so a loser of the race starts nothing; then, unless it takes over from a running primary (whose
// servers it adopts), the guard over its downstream processes and those processes themselves. servePrimary
// claims before it loads the runtime, so the servers' own starts overlap the primary's; runPrimary claims
// itself when called without a claim (the API in a script). Nothing here loads the SDK (the lazyBoundary test
// keeps it so): the CLI loads this module lazily, as it loads the runtime, since zod comes with the config.
import { GatewayError } from "../errors.js";
import { VERSION } from "../version.js";
import { coordinatesFor, type Coordinates } from "../coordination/client.js";
import { refuseForeignPrimary } from "../coordination/instanceProof.js";
import { acquireLock, adoptSocketLock, type HeldLock } from "../coordination/lock.js";
import type { StatePaths } from "../coordination/paths.js";
import { ensureStateDir } from "../coordination/stateDir.js";
import { guardServers, type ServerGuard } from "../downstream/guard.js";
import { Prestarted } from "../downstream/prestart.js";
import { fromOld, startedForHandover, type FromOld } from "./handoverLink.js";
import { LOCK_WAIT_MS } from "./takeOver.js";

/** What a claim needs of the primary's options. */
export interface ClaimOptions {
  paths: StatePaths;
  watchdog?: { command: string; args: string[] };
  takeOver?: boolean;
}

/** The lock, and what a primary holds with it before its runtime loads. */
export interface PrimaryClaim {
  coords: Coordinates;
  lock: HeldLock;
  /** Taking over: the old primary, and the token it handed with its lock. */
  old?: FromOld;
  handedToken?: string;
  /** A fresh primary: the guard over its downstream processes (a predecessor's leftovers reaped) ... */
  guard?: ServerGuard;
  /** ... and its local servers, started under that guard. */
  prestarted?: Prestarted;
}

/** Takes the lock (throws LOCK_HELD when another primary holds it), then guards and starts the servers. */
export async function claimPrimary(opts: ClaimOptions): Promise<PrimaryClaim> {
  const { paths } = opts;
  ensureStateDir(paths);
  const coords = coordinatesFor(paths);
  // Taking over: the old primary hands its lock over (the kernel object is never free) and stays recorded.
  const old = opts.takeOver && startedForHandover() ? fromOld(VERSION) : undefined;
  const handed = old ? await old.lock(LOCK_WAIT_MS) : undefined;
  const lock = handed ? adoptSocketLock(coords.lock, handed.server) : await acquireLock(coords.lock);
  if (!lock) throw new GatewayError("LOCK_HELD", `another primary holds ${coords.lock.display}`);
  try {
    if (!old) refuseForeignPrimary(paths.instanceFile, paths.stateDir);
    lock.notePid(paths.lockFile);
    // Taking over, the servers come from the old primary once this one serves (takeOver.ts): none starts here.
    if (old) return { coords, lock, old, ...(handed ? { handedToken: handed.token } : {}) };
    // Before any server starts: what a killed predecessor left is ended, and what we start is recorded and watched.
    const guard = await guardServers(paths.stateDir, opts.watchdog);
    return { coords, lock, guard, prestarted: Prestarted.fromConfig(paths.configFile) };
  } catch (err) {
    await lock.release();
    throw err;
  }
}
