import { randomBytes } from "node:crypto";
import { Bridge } from "../gateway/bridge.js";
import { bridgeStdin } from "../transport/clientInput.js";
import { connectToPrimary, coordinatesFor } from "../coordination/client.js";
import type { SessionRequest } from "../coordination/handshake.js";
import type { StatePaths } from "../coordination/paths.js";
import { ensureStateDir } from "../coordination/stateDir.js";
import { configureLogging, logger } from "../log.js";
import { EXIT } from "./exitCodes.js";
import { primaryProgram } from "./primaryProgram.js";
import { noticeOnTerminal } from "./ttyNotice.js";
import { selfCommand } from "../coordination/spawnPrimary.js";
import { requestUpgrade, UpgradeWatch } from "../coordination/upgrade.js";
import { VERSION } from "../version.js";

// What every client launches, in a module of its own: the binary's small front bundle (src/front.ts) holds
// this and what it imports, and nothing of the primary's side.
const log = logger("bridge");

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
    input: bridgeStdin(),
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
