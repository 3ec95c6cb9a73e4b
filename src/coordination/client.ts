import { closeSync, fstatSync, openSync, readSync, statfsSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { GatewayError, describeError } from "../errors.js";
import { logger } from "../log.js";
import { tmpdir } from "node:os";
import { connectEndpoint } from "./endpoint.js";
import { readToken, sendHello, type ConnectionKind, type SessionRequest, type Welcome } from "./handshake.js";
import { stateDirKey } from "./identity.js";
import { acquireLock, isLockHeld, type HeldLock, type LockPlan } from "./lock.js";
import type { StatePaths } from "./paths.js";
import { planCoordination, type CoordinationPlan, type EndpointAddress } from "./plan.js";
import { chooseSocketDir, type SocketDir } from "./socketDir.js";
import { currentSid, pipeBaseName, readOrCreateSecret } from "./windowsPipe.js";
import { ensureStateDir } from "./stateDir.js";
import { spawnPrimary, type SpawnedPrimary } from "./spawnPrimary.js";

const log = logger("client");

/** Everything a process needs to find the primary of one state dir. */
export interface Coordinates {
  paths: StatePaths;
  lock: LockPlan;
  /** Held while one client starts a primary. */
  spawnGuard: LockPlan;
  endpoint: EndpointAddress;
}

/**
 * The lock and endpoint of a state dir on this platform. Resolved at first use, not here: the names derive
 * from the dir's device and inode, which exist only once the dir does; before that, every plan points into
 * the missing dir, where nothing can listen.
 */
export function coordinatesFor(paths: StatePaths, env: NodeJS.ProcessEnv = process.env): Coordinates {
  let resolved: CoordinationPlan | undefined;
  const plan = () => resolved ?? resolvePlan(paths, env, (p) => (resolved = p));
  return {
    paths,
    get lock() {
      return plan().lock;
    },
    get spawnGuard() {
      return plan().spawnGuard;
    },
    get endpoint() {
      return plan().endpoint;
    },
  };
}

function resolvePlan(paths: StatePaths, env: NodeJS.ProcessEnv, keep: (p: CoordinationPlan) => void): CoordinationPlan {
  const platform = process.platform;
  let dirKey: string | undefined;
  try {
    dirKey = stateDirKey(paths.stateDir, platform);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const uid = typeof process.getuid === "function" ? process.getuid() : -1;
  const socketDir: SocketDir = dirKey
    ? chooseSocketDir({ platform, stateDir: paths.stateDir, env, tmp: tmpdir(), uid })
    : { dir: paths.stateDir, shared: false, kind: "state" };
  const pipeBase =
    platform === "win32" && dirKey ? pipeBaseName(currentSid(), readOrCreateSecret(join(paths.stateDir, "gateway.secret")), dirKey) : "claude-mpm-gateway-none";
  const plan = planCoordination({ platform, stateDir: paths.stateDir, lockFile: paths.lockFile, socketDir, dirKey: dirKey ?? "none", pipeBase });
  if (dirKey) keep(plan);
  return plan;
}

/** An authenticated connection to the primary. */
export interface PrimaryConnection {
  socket: Socket;
  welcome: Welcome;
}

/** One attempt to reach the primary; null when none answers or the token on disk is not its token. */
export async function tryConnect(c: Coordinates, kind: ConnectionKind, timeoutMs = 1000, session: SessionRequest = {}): Promise<PrimaryConnection | null> {
  const token = readToken(c.paths.tokenFile);
  if (!token) return null;
  let socket: Socket;
  try {
    socket = await connectEndpoint(c.endpoint, timeoutMs);
  } catch {
    return null;
  }
  try {
    const welcome = await sendHello(socket, token, kind, timeoutMs, session);
    return { socket, welcome };
  } catch (err) {
    log.debug(`hello refused: ${describeError(err)}`);
    socket.destroy();
    return null;
  }
}

/** Options for reaching the primary with retries. */
export interface ConnectOptions {
  kind: ConnectionKind;
  /** Start a primary when the lock is free. */
  spawn: boolean;
  /** Give up after this long (default 10 s, or CLAUDE_MPM_GATEWAY_START_TIMEOUT_MS). */
  deadlineMs?: number;
  /** Stop trying early. */
  signal?: AbortSignal;
  /** The gateway program to start (default: this very program). */
  program?: { command: string; args: string[]; env?: NodeJS.ProcessEnv };
  /** For a session: the client's own view (profile, name limit). */
  session?: SessionRequest;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const DEFAULT_START_DEADLINE_MS = 10_000;

/**
 * How long a client waits for a primary to answer: 10 s, or CLAUDE_MPM_GATEWAY_START_TIMEOUT_MS where a
 * primary starts slower (the arm64 build under qemu on a busy machine takes 10–15 s); bad values are ignored.
 */
function startDeadlineMs(): number {
  const ms = Number(process.env.CLAUDE_MPM_GATEWAY_START_TIMEOUT_MS?.trim() || NaN);
  return Number.isFinite(ms) && ms > 0 ? ms : DEFAULT_START_DEADLINE_MS;
}

/**
 * Reaches the primary, starting one when the lock is free, retrying with backoff until the deadline. Many
 * callers may spawn at once: the lock picks one primary and the others exit.
 */
export async function connectToPrimary(c: Coordinates, opts: ConnectOptions): Promise<PrimaryConnection> {
  // The spawn guard and the names live in (or derive from) the state dir: it must exist before either.
  if (opts.spawn) ensureStateDir(c.paths);
  const deadlineMs = opts.deadlineMs ?? startDeadlineMs();
  const deadline = Date.now() + deadlineMs;
  let delay = 10;
  let lastSpawn = 0;
  let spawned: SpawnedPrimary | undefined;
  let guard: HeldLock | null = null;
  try {
    for (;;) {
      const conn = await tryConnect(c, opts.kind, undefined, opts.session);
      if (conn) return conn;
      if (opts.signal?.aborted) throw new GatewayError("PRIMARY_UNREACHABLE", "gave up reaching the primary");
      // Spawn again only if the last one had time to take the lock and still no one holds it; and only the
      // client holding the spawn guard spawns: the others wait for the primary it starts.
      if (opts.spawn && Date.now() - lastSpawn > 2000 && !(await isLockHeld(c.lock))) {
        guard ??= await acquireLock(c.spawnGuard);
        if (guard && !(await isLockHeld(c.lock))) {
          spawned = spawnPrimary(opts.program);
          lastSpawn = Date.now();
        }
      }
      if (spawned?.failed && !(await isLockHeld(c.lock))) {
        // Waiting out the deadline would only delay the same answer: say why the primary could not start.
        const why = lastLoggedError(c.paths.logFile) ?? diskFull(c.paths.stateDir);
        throw new GatewayError("PRIMARY_UNREACHABLE", `${spawned.failed}${why ? `: ${why}` : ""}; see ${c.paths.logFile}`);
      }
      if (Date.now() + delay > deadline) {
        throw new GatewayError(
          "PRIMARY_UNREACHABLE",
          `no gateway primary answered on ${c.endpoint.display} within ${Math.round(deadlineMs / 1000)} s; see ${c.paths.logFile}`,
        );
      }
      await sleep(delay);
      // A primary is usually listening ~150 ms after spawn: poll finely rather than sleep past it.
      delay = Math.min(delay * 2, 100);
    }
  } finally {
    await guard?.release();
  }
}

/** A full disk also keeps the primary from logging why it failed: say so when that is the case. */
function diskFull(dir: string): string | undefined {
  try {
    return statfsSync(dir).bavail === 0 ? `the disk holding ${dir} is full` : undefined;
  } catch {
    return undefined;
  }
}

/** The message of the newest ERROR line in the log's tail, if any. */
function lastLoggedError(logFile: string): string | undefined {
  let text: string;
  try {
    const fd = openSync(logFile, "r");
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.alloc(Math.min(size, 8192));
      readSync(fd, buf, 0, buf.length, size - buf.length);
      text = buf.toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const line = text.split("\n").reverse().find((l) => / ERROR /.test(l));
  return line?.replace(/^.*? ERROR +\[[^\]]*\] [^:]*: /, "");
}

/**
 * Sends one control request (an op name, or a whole message with its `op`) to the running primary and returns
 * its answer, or null if none answers within `timeoutMs`. `onWelcome` hears who accepted the request.
 */
export async function controlRequest<T>(c: Coordinates, op: string | { op: string }, timeoutMs = 2000, onWelcome?: (welcome: Welcome) => void): Promise<T | null> {
  const conn = await tryConnect(c, "control", timeoutMs);
  if (!conn) return null;
  onWelcome?.(conn.welcome);
  const { socket } = conn;
  return new Promise<T | null>((resolve) => {
    let buf = "";
    const done = (value: T | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl === -1) return;
      try {
        done(JSON.parse(buf.slice(0, nl)) as T);
      } catch {
        done(null);
      }
    });
    socket.once("close", () => done(null));
    socket.once("error", () => done(null));
    socket.write(JSON.stringify(typeof op === "string" ? { op } : op) + "\n");
    socket.resume();
  });
}
