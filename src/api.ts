// The seed's programmatic API (mcp_gateway_coordination.md) in TypeScript's casing, for scripts and tests.
// Same meaning, minus the seed's flaws: "running" is decided by the kernel lock and an authenticated ping,
// never by a pid; files are written atomically and privately; a second caller is served, not refused.
import { connectToPrimary, coordinatesFor, type Coordinates } from "./coordination/client.js";
import { statePaths, type StatePaths } from "./coordination/paths.js";
import { queryStatus, type PrimaryStatus } from "./coordination/status.js";
import { stopPrimary } from "./coordination/stop.js";
import { ensureStateDir } from "./coordination/stateDir.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { GATEWAY_NAME } from "./version.js";

export type { PrimaryStatus } from "./coordination/status.js";
import { GatewayError } from "./errors.js";
export { GatewayError, type ErrorCode } from "./errors.js";

/** Where the gateway lives and which binary to start. */
export interface ManagerOptions {
  /** CLAUDE_MPM_HOME (default: the environment's, else ~/.claude-mpm). */
  home?: string;
  /** The claude-mpm-gateway executable started by startGlobalGateway (default: this program). */
  executable?: string;
}

/** One manager per process and state dir: the gateway's state lives in the primary, not in this object. */
export class MCPGatewayManager {
  private static instance?: MCPGatewayManager;
  readonly paths: StatePaths;
  private readonly coords: Coordinates;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: ManagerOptions = {}) {
    this.env = options.home ? { ...process.env, CLAUDE_MPM_HOME: options.home } : process.env;
    this.paths = statePaths(this.env);
    this.coords = coordinatesFor(this.paths);
  }

  /** The process-wide manager for the default state dir. */
  static get(): MCPGatewayManager {
    return (MCPGatewayManager.instance ??= new MCPGatewayManager());
  }

  /** True when a primary holds the lock and answers on its endpoint. */
  async isRunning(): Promise<boolean> {
    return (await this.getStatus()) !== null;
  }

  /** The running primary's status (pid, version, sessions, tools, downstream), or null; cleans stale files. */
  async getStatus(): Promise<PrimaryStatus | null> {
    const s = await queryStatus(this.coords);
    return s.state === "running" ? s.status : null;
  }

  /**
   * Makes sure the installation's gateway runs, starting it detached when none does; true once it answers.
   * A gateway already running is reused (the seed's second start returned true too).
   */
  async start(): Promise<boolean> {
    ensureStateDir(this.paths);
    const program = { command: this.options.executable ?? defaultExecutable(), args: [], env: this.env };
    const conn = await connectToPrimary(this.coords, { kind: "control", spawn: true, program });
    conn.socket.destroy();
    return true;
  }

  /** Runs the primary in this process until it shuts down (signal, `stop`, idle linger). */
  async run(lingerMs = 30_000): Promise<void> {
    const { runPrimary } = await import("./gateway/runtime.js");
    const bin = this.options.executable ?? (existsBeside() ? defaultExecutable() : undefined);
    await runPrimary({ paths: this.paths, lingerMs, ...(bin ? { watchdog: { command: bin, args: [] } } : {}) });
  }

  /** Asks the running primary to stop; true if one was running, once it has released the lock. */
  async stop(): Promise<boolean> {
    return (await stopPrimary(this.coords)) !== null;
  }
}

/**
 * The binary beside this module (dist/index.cjs sits next to dist/claude-mpm-gateway). Not this process:
 * a script using the API is not the gateway, and re-running it with --primary would be wrong.
 */
function defaultExecutable(): string {
  const bin = binaryBeside();
  if (bin && existsSync(bin)) return bin;
  throw new GatewayError("USAGE", "no claude-mpm-gateway binary next to this module: pass { executable } to MCPGatewayManager");
}

function binaryBeside(): string | undefined {
  const dir = typeof __dirname === "string" ? __dirname : undefined;
  return dir && join(dir, process.platform === "win32" ? "claude-mpm-gateway.exe" : "claude-mpm-gateway");
}

function existsBeside(): boolean {
  const bin = binaryBeside();
  return !!bin && existsSync(bin);
}

/** Is the installation's gateway running? */
export function isGatewayRunning(): Promise<boolean> {
  return MCPGatewayManager.get().isRunning();
}

/** Status of the running gateway, or null. */
export function getGatewayStatus(): Promise<PrimaryStatus | null> {
  return MCPGatewayManager.get().getStatus();
}

/**
 * Starts the global gateway if none runs. The name and version are the seed's parameters; the primary
 * reports its own (`claude-mpm-gateway` and the binary's version), which is what a client sees.
 */
export function startGlobalGateway(_name: string = GATEWAY_NAME, _version?: string): Promise<boolean> {
  return MCPGatewayManager.get().start();
}

/** Runs the global gateway in this process until it shuts down. */
export function runGlobalGateway(): Promise<void> {
  return MCPGatewayManager.get().run();
}
