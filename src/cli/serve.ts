import { randomBytes } from "node:crypto";
import { Bridge } from "../gateway/bridge.js";
import { connectToPrimary, coordinatesFor } from "../coordination/client.js";
import type { SessionRequest } from "../coordination/handshake.js";
import type { StatePaths } from "../coordination/paths.js";
import { ensureStateDir } from "../coordination/stateDir.js";
import { describeError, isGatewayError } from "../errors.js";
import { configureLogging, logger } from "../log.js";
import { EXIT } from "./exitCodes.js";
import { primaryProgram } from "./primaryProgram.js";
import { selfCommand } from "../coordination/spawnPrimary.js";
import { noticeOnTerminal } from "./ttyNotice.js";
import { requestUpgrade, UpgradeWatch } from "../coordination/upgrade.js";
import { VERSION } from "../version.js";

const log = logger("bridge");

/** Default time the primary stays up after its last session ends. */
const DEFAULT_LINGER_MS = 30_000;

/** What every client launches: a bridge from this stdio to the primary, starting the primary if none runs. */
export async function serveBridge(paths: StatePaths, view: SessionRequest = {}): Promise<number> {
  configureLogging({ tag: "bridge" });
  // A state dir the primary cannot use is reported here, at once, rather than after a failed spawn.
  ensureStateDir(paths);
  const coords = coordinatesFor(paths);
  // A person at a terminal, not a client: say what this is (once the primary's URL can be named).
  const told = noticeOnTerminal(paths);
  // One id for this client's whole session, told to every primary it reaches (see SessionRequest.binding).
  const session: SessionRequest = { ...view, binding: randomBytes(16).toString("base64url"), moves: true };
  let warned: string | undefined;
  const upgrade = new UpgradeWatch({
    version: VERSION,
    program: primaryProgram(paths),
    isBinary: selfCommand().args.length === 0,
    instanceFile: paths.instanceFile,
    onLog: (m) => log.warn(m),
  });
  const bridge = new Bridge({
    input: process.stdin,
    output: process.stdout,
    connect: async () => {
      try {
        // A primary older than this program is asked (once) to hand over to it: see coordination/upgrade.
        const conn = await upgrade.connect(
          (program) => connectToPrimary(coords, { kind: "session", spawn: true, program, session }),
          (program) => requestUpgrade(coords, program),
        );
        // Served, but not as asked (an unknown profile): the client gets JSON-RPC errors, its user this line.
        if (conn.welcome.warning && conn.welcome.warning !== warned) log.error((warned = conn.welcome.warning));
        return conn.socket;
      } finally {
        told();
      }
    },
    onLog: (m) => log.warn(m),
  });
  watchParent();
  await bridge.run();
  // The client closed stdin: nothing here is worth waiting for (a retry timer, a closing socket).
  process.exit(EXIT.OK);
}

/** A bridge must not outlive its client even when the client dies without closing stdin. */
function watchParent(): void {
  const parent = process.ppid;
  if (process.platform === "win32") return;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(EXIT.OK);
  }, 1000).unref();
}

/** `--watchdog`: internal, started by a primary; ends its downstream servers if it dies (see downstream/watchdog). */
export async function serveWatchdog(): Promise<number> {
  const { runWatchdog } = await import("../downstream/watchdog.js");
  return runWatchdog(process.stdin);
}

/** `--standalone`: one self-contained gateway on this stdio. */
export async function serveStandalone(paths: StatePaths, session: SessionRequest = {}): Promise<number> {
  configureLogging({ tag: "standalone" });
  noticeOnTerminal(paths)();
  const { runStandalone } = await import("../gateway/runtime.js");
  await runStandalone(paths, undefined, session);
  return EXIT.OK;
}

/** CLAUDE_MPM_GATEWAY_LINGER_MS overrides the linger (tests use a short one); bad values are ignored. */
function lingerFromEnv(): number {
  const raw = process.env.CLAUDE_MPM_GATEWAY_LINGER_MS?.trim();
  const ms = raw ? Number(raw) : NaN;
  return Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_LINGER_MS;
}

/** `--primary`: the one per installation, started detached by a bridge. */
export async function servePrimary(paths: StatePaths, lingerMs?: number, takeOver = false): Promise<number> {
  ensureStateDir(paths);
  configureLogging({ tag: "primary", file: paths.logFile });
  // Detached, the primary's stderr goes nowhere: its log file keeps info unless a level was asked for.
  if (!process.env.CLAUDE_MPM_LOG_LEVEL) configureLogging({ level: "info" });
  const { runPrimary } = await import("../gateway/runtime.js");
  try {
    const outcome = await runPrimary({ paths, lingerMs: lingerMs ?? lingerFromEnv(), watchdog: selfCommand(), takeOver });
    // Now, not at the end of the event loop: an orderly end would close the lock's socket, which the next
    // primary holds too, and closing it unlinks its file.
    if (outcome.handedOver) process.exit(EXIT.OK);
    return outcome.fatal ? EXIT.FAILURE : EXIT.OK;
  } catch (err) {
    // Lost the race for the lock: another primary serves, which is all a caller wanted.
    if (isGatewayError(err, "LOCK_HELD")) {
      logger("primary").info(`${err.message}; exiting`);
      return EXIT.OK;
    }
    // Detached, the primary's stderr goes nowhere: the log file is where the bridge that started it looks.
    logger("primary").error(describeError(err));
    throw err;
  }
}
