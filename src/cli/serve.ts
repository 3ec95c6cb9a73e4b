import type { SessionRequest } from "../coordination/handshake.js";
import type { StatePaths } from "../coordination/paths.js";
import { ensureStateDir } from "../coordination/stateDir.js";
import { describeError, isGatewayError } from "../errors.js";
import { configureLogging, logger } from "../log.js";
import { EXIT } from "./exitCodes.js";
import { selfCommand } from "../coordination/spawnPrimary.js";
import { noticeOnTerminal } from "./ttyNotice.js";

export { serveBridge } from "./serveBridge.js";

/** Default time the primary stays up after its last session ends. */
const DEFAULT_LINGER_MS = 30_000;

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
  const watchdog = selfCommand();
  try {
    // The lock and the servers' start before the runtime (the SDK, sessions) loads: their starts overlap it.
    const { claimPrimary } = await import("../gateway/primaryClaim.js");
    const claim = await claimPrimary({ paths, watchdog, takeOver });
    const { runPrimary } = await import("../gateway/runtime.js");
    const outcome = await runPrimary({ paths, lingerMs: lingerMs ?? lingerFromEnv(), watchdog, takeOver, claim, exitsAfterHandover: true });
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
