// A lock that is a listening Unix socket file in a private dir. The kernel enforces it (bind(2) of an
// existing path fails with EADDRINUSE, and only the dir's owner may bind or connect there), and the
// listening socket is the primary's endpoint too. Unlike an abstract name, the file outlives a holder
// killed by SIGKILL: a socket whose connect is refused is dead, and is taken over by the protocol below,
// which needs no flock (Node has none on Linux).
//
// Claim(S): bind S. Of any number of binders of a free S exactly one succeeds. On EADDRINUSE, connect to
// S: answered (or too busy to answer) means held; refused means dead. A dead S may only be removed by the
// holder of its takeover guard G = S.takeover, itself claimed by binding G (a live socket, so G is live
// exactly as long as its holder). Under G, S is probed again and unlinked only if still dead: no one can
// have replaced it meanwhile, since S cannot be bound while it exists and only a G holder unlinks it; then
// G is closed and the claimer binds S like anyone else. A G left by a process killed inside that short
// section is itself dead: it is renamed aside and removed only if what moved is the inode that was probed
// dead (a live G moved by mistake is linked back), so a live G is never deleted. The one interleaving this
// cannot rule out needs a claimer killed inside the guarded section and three others racing in a window
// of microseconds; the handshake still keeps a second primary from being used with a stale token.
// S and G only ever appear already listening: a claimer listens on a fresh name T beside S (S.<8 hex>, or
// S.g<7 hex> for G), link(2)s S (or G) to it (atomic, and EEXIST when it exists), then unlinks T. A socket
// bound but not yet listening refuses connects too, so a claimer descheduled between bind(2) and listen(2)
// on S or G itself would be probed dead and removed by another: two holders of S (seen once in CI under
// load), or of G (then one may unlink an S that a third has just claimed). A file system without hard links
// falls back to binding S and G directly. Release unlinks S (G) while it is still this claim's inode, then
// closes.
// A claimer killed (SIGKILL) between its bind and its unlink of T leaves T behind: whoever next claims S
// removes such leftovers. T exists before it listens, so a refused connect does not make T dead: it is dead
// only when no socket of this network namespace is bound to its name either (/proc/net/unix), and is removed
// by inode. A live T removed all the same (a claimer in another network namespace) only makes its claimer
// try again: its link then fails with ENOENT.
import { randomBytes } from "node:crypto";
import { linkSync, lstatSync, readdirSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { basename, dirname, join } from "node:path";
import { GatewayError } from "../errors.js";

/** What a connect to a socket path says about it. */
export type SocketState = "live" | "dead" | "gone";

/** Connects once: answered or too busy to answer within `timeoutMs` is live; refused is dead. */
export function probeSocket(file: string, timeoutMs = 1000): Promise<SocketState> {
  return new Promise((resolve) => {
    const socket = connect(file);
    const done = (state: SocketState) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(state);
    };
    const timer = setTimeout(() => done("live"), timeoutMs);
    socket.once("connect", () => done("live"));
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code === "ECONNREFUSED" ? "dead" : err.code === "ENOENT" ? "gone" : "live"));
  });
}

/** A claimed socket file: the server listening on it until release. */
export interface ClaimedSocket {
  server: Server;
  file: string;
  /** Closes the server, which removes the file. Safe to call twice. */
  release(): Promise<void>;
  /** True while the file still is the socket this claim bound (not deleted or replaced). */
  stillHeld(): boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Binds `path`, or returns null when something is there already. Connections are probes: closed at once. */
function bind(path: string): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.destroy());
    server.once("error", (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" ? resolve(null) : reject(err)));
    server.listen(path, () => resolve(server));
  });
}

const closeServer = (server: Server) => new Promise<void>((r) => server.close(() => r()));

function inodeOf(path: string): bigint | undefined {
  try {
    return lstatSync(path, { bigint: true }).ino;
  } catch {
    return undefined;
  }
}

/** Removes `file` only if it is the very inode `dead` (probed dead); a live one moved aside goes back. */
function removeIfStill(file: string, dead: bigint): void {
  const aside = join(dirname(file), `.${randomBytes(6).toString("hex")}.dead`);
  try {
    renameSync(file, aside);
  } catch {
    return; // gone already
  }
  if (inodeOf(aside) === dead) {
    unlinkSync(aside);
    return;
  }
  // Someone claimed it between our probe and the rename: give it back (link never replaces a newer one).
  try {
    linkSync(aside, file);
  } catch {
    // a newer one is there: link never replaces it
  }
  unlinkSync(aside);
}

/** Removes a dead S under its takeover guard; false when another process is taking it over now. */
async function removeDead(file: string): Promise<boolean> {
  const guardFile = `${file}.takeover`;
  const guard = await listenThenLink(guardFile, tempName(file, true));
  if (!guard) {
    const ino = inodeOf(guardFile);
    if (ino !== undefined && (await probeSocket(guardFile)) === "dead" && inodeOf(guardFile) === ino) removeIfStill(guardFile, ino);
    return false;
  }
  const ino = inodeOf(guardFile);
  try {
    if ((await probeSocket(file)) === "dead") unlinkSync(file);
  } finally {
    await releaseListening(guardFile, guard, ino);
  }
  return true;
}

/** Unlinks `file` while it is still `ino` (a linked one outlives its server), then closes the server. */
function releaseListening(file: string, { server, direct }: Listening, ino: bigint | undefined): Promise<void> {
  if (!direct && ino !== undefined && inodeOf(file) === ino) {
    try {
      unlinkSync(file);
    } catch {
      // removed meanwhile
    }
  }
  return closeServer(server);
}

/** A listening server whose socket `file` links to, or null when `file` exists. */
interface Listening {
  server: Server;
  /** Bound to `file` itself (no hard links here): closing it unlinks `file`, as libuv does for a bound path. */
  direct: boolean;
}

/**
 * A claimer's temp name beside S: `.` and 8 hex digits to link S, `.g` and 7 to link G. As long as `.takeover`,
 * so it fits sun_path wherever G does (socketDir.ts); told apart by whoever reads /proc/net/unix (the bound name).
 */
function tempName(s: string, forGuard: boolean): string {
  const hex = randomBytes(4).toString("hex");
  return forGuard ? `${s}.g${hex.slice(1)}` : `${s}.${hex}`;
}
const TEMP_SUFFIX = /^\.(?:[0-9a-f]{8}|g[0-9a-f]{7})$/;

/** Listens on `temp`, then links `file` to it; binds `file` itself where links fail. */
async function listenThenLink(file: string, temp: string): Promise<Listening | null> {
  const server = await bind(temp);
  if (!server) return null; // that name is taken (a leftover, or a live claimer's): the caller tries again
  try {
    linkSync(temp, file);
  } catch (err) {
    await closeServer(server); // unlinks temp
    // ENOENT: temp was taken for a dead leftover and removed (sweepTemps); try again like any loser.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOENT") return null;
    const direct = await bind(file);
    return direct && { server: direct, direct: true };
  }
  unlinkSync(temp);
  return { server, direct: false };
}

/** At most this many leftovers are looked at per claim: a sweep stays bounded, the next claim goes on. */
const SWEEP_MAX = 16;

/**
 * Base names of every Unix socket bound in this network namespace, a socket bound but not listening
 * included; undefined where /proc/net/unix cannot be read (then nothing counts as dead).
 */
function boundSocketNames(): Set<string> | undefined {
  let table: string;
  try {
    table = readFileSync("/proc/net/unix", "utf8");
  } catch {
    return undefined;
  }
  const names = new Set<string>();
  // Num RefCount Protocol Flags Type St Inode Path: the path is the name as bound (by whatever spelling of
  // the dir), so the base name is compared: a false match only keeps a leftover.
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8) names.add(basename(f.slice(7).join(" ")));
  }
  return names;
}

/**
 * Removes the temps of claimers of `file` killed between their bind and their unlink of it (see the header):
 * each socket file that refuses a connect and that no socket of this namespace is bound to, by inode. Never
 * throws: the claim it follows stands whatever happens here.
 */
async function sweepTemps(file: string): Promise<void> {
  try {
    const dir = dirname(file);
    const base = basename(file);
    const refused: Array<{ name: string; path: string; ino: bigint }> = [];
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(base) || !TEMP_SUFFIX.test(name.slice(base.length))) continue;
      if (refused.length >= SWEEP_MAX) break;
      const path = join(dir, name);
      const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
      // A live claimer's temp that listens answers: only a refused one may be a leftover.
      if (st?.isSocket() && (await probeSocket(path, 500)) === "dead") refused.push({ name, path, ino: st.ino });
    }
    if (!refused.length) return;
    // Read after each inode was seen: a socket that made that file and still lives is listed now.
    const bound = boundSocketNames();
    for (const r of refused) if (bound && !bound.has(r.name) && inodeOf(r.path) === r.ino) removeIfStill(r.path, r.ino);
  } catch {
    // left for the next holder
  }
}

/** Claims the socket file: returns its listening server, or null at once when a live process holds it. */
export async function claimSocket(file: string, display = file): Promise<ClaimedSocket | null> {
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      const listening = await listenThenLink(file, tempName(file, false));
      if (listening) {
        let released: Promise<void> | undefined;
        const ino = inodeOf(file);
        await sweepTemps(file);
        return {
          server: listening.server,
          file,
          release: () => (released ??= releaseListening(file, listening, ino)),
          stillHeld: () => ino !== undefined && inodeOf(file) === ino,
        };
      }
      const state = await probeSocket(file);
      if (state === "live") return null;
      if (state === "dead" && !(await removeDead(file))) await sleep(20 + attempt * 10);
    }
  } catch (err) {
    throw new GatewayError("STATE_DIR", `cannot take the gateway lock (${display}): ${(err as Error).message}`, { cause: err });
  }
  throw new GatewayError("STATE_DIR", `cannot take the gateway lock (${display}): a dead socket there could not be taken over`);
}
