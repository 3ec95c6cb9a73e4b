// A new primary starts its local servers' processes as soon as it holds the lock and their guard, before it
// loads the MCP SDK and its session code: each server's own start (a Node or Python runtime, an npx) then
// overlaps the primary's, instead of following it. The downstream manager opens its sessions over them when
// it first applies the config (it reads the file again: a server whose entry changed meanwhile, or that it
// does not start, has its early process stopped). Nothing here needs the SDK.
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import { loadConfig, sameServer, type ServerConfig, type StdioServerConfig } from "./config.js";
import { startStdio, type StdioProcess } from "./stdioProcess.js";

const log = logger("downstream");

/** Local servers started before the runtime loaded, each with the config entry it was started for. */
export class Prestarted {
  private readonly byName = new Map<string, { config: StdioServerConfig; proc: StdioProcess }>();

  /** Starts every enabled local server of `configFile`; a file that cannot be read starts none (the manager says why). */
  static fromConfig(configFile: string): Prestarted {
    const out = new Prestarted();
    let servers: Record<string, ServerConfig>;
    try {
      servers = loadConfig(configFile).mcpServers;
    } catch {
      return out;
    }
    for (const [name, config] of Object.entries(servers)) {
      if (config.type !== "stdio" || config.disabled) continue;
      try {
        const proc = startStdio(name, config);
        out.byName.set(name, { config, proc });
        log.info(`${name}: process started early (pid ${proc.child.pid ?? "none"}), before the runtime loaded`);
      } catch (err) {
        // Started again by the manager, which reports the same failure the usual way.
        log.debug(`${name}: not started early: ${describeError(err)}`);
      }
    }
    return out;
  }

  /** How many are held. */
  get size(): number {
    return this.byName.size;
  }

  /** The pid of the process started early for `name`, while it is held. */
  pidOf(name: string): number | undefined {
    return this.byName.get(name)?.proc.child.pid;
  }

  /** The process started for `name` with exactly `config`, handed out once; undefined otherwise. */
  take(name: string, config: ServerConfig): StdioProcess | undefined {
    const held = this.byName.get(name);
    if (!held || config.type !== "stdio" || config.disabled || !sameServer(held.config, config)) return undefined;
    this.byName.delete(name);
    return held.proc;
  }

  /** Stops every process not taken, bounded by `graceMs` each (in parallel). */
  async stopRest(graceMs: number): Promise<void> {
    const rest = [...this.byName];
    this.byName.clear();
    for (const [name] of rest) log.info(`${name}: its early process is not used (its config entry changed or the gateway stopped); stopping it`);
    await Promise.all(rest.map(([, { proc }]) => proc.stop(graceMs)));
  }
}
