// Which kernel objects coordinate one state dir on each platform: the lock, the spawn guard (held by the
// one client that starts a primary) and the endpoint. Pure, so each platform's choice is unit-testable here.
import { join } from "node:path";
import { GatewayError } from "../errors.js";
import type { LockPlan } from "./lock.js";
import type { SocketDir } from "./socketDir.js";

/** Where the primary listens: an address for net.listen/connect and a form for people. */
export interface EndpointAddress {
  address: string;
  display: string;
  /** A socket file the primary listens on (macOS), removed at shutdown. */
  file?: string;
  /** A 0700 dir of ours to create and check before binding there. */
  privateDir?: string;
  /** The lock's own listening socket is the endpoint (Linux): nothing more to bind. */
  viaLock?: boolean;
}

/** The lock, spawn guard and endpoint of one state dir. */
export interface CoordinationPlan {
  lock: LockPlan;
  spawnGuard: LockPlan;
  endpoint: EndpointAddress;
}

/** What the plan depends on. */
export interface PlanInput {
  platform: NodeJS.Platform;
  stateDir: string;
  lockFile: string;
  /** Unix: where socket files go (see socketDir.ts). */
  socketDir?: SocketDir;
  dirKey: string;
  /** Windows: the pipe base name (see windowsPipe.ts). */
  pipeBase?: string;
}

/** Chooses every coordination object for a platform; refuses a platform it cannot coordinate on. */
export function planCoordination(input: PlanInput): CoordinationPlan {
  if (input.platform === "win32") {
    const pipe = (suffix: string) => `\\\\.\\pipe\\${input.pipeBase}${suffix}`;
    return {
      lock: { kind: "pipe", address: pipe("-lock"), display: `named pipe ${pipe("-lock")}` },
      spawnGuard: { kind: "pipe", address: pipe("-spawn"), display: `named pipe ${pipe("-spawn")}` },
      endpoint: { address: pipe(""), display: pipe("") },
    };
  }
  if (input.platform !== "linux" && input.platform !== "darwin") {
    throw new GatewayError("UNSUPPORTED_PLATFORM", `claude-mpm-gateway cannot coordinate on ${input.platform}: use --standalone`);
  }
  const sd = input.socketDir!;
  const base = sd.shared ? input.dirKey : "gateway";
  const file = (suffix: string) => join(sd.dir, `${base}${suffix}.sock`);
  const privateDir = sd.kind === "state" ? undefined : sd.dir;
  if (input.platform === "linux") {
    const lock = file("");
    return {
      lock: { kind: "socket-file", file: lock, privateDir, display: `socket ${lock}` },
      spawnGuard: { kind: "socket-file", file: file("-spawn"), privateDir, display: `socket ${file("-spawn")}` },
      endpoint: { address: lock, display: lock, viaLock: true },
    };
  }
  const spawnFile = join(input.stateDir, "gateway.spawn.lock");
  return {
    lock: { kind: "flock", file: input.lockFile, display: `flock on ${input.lockFile}` },
    spawnGuard: { kind: "flock", file: spawnFile, display: `flock on ${spawnFile}` },
    endpoint: { address: file(""), display: file(""), file: file(""), privateDir },
  };
}
