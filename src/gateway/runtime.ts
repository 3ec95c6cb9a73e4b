// The lazy boundary: everything that needs the MCP SDK is reached through this module, which the CLI
// loads with a dynamic import, so the bridge, --version and --status never evaluate the SDK.
import { builtinTools } from "../tools/builtin.js";
import { Registry } from "../tools/registry.js";
import type { GatewayState } from "../tools/types.js";
import type { StatePaths } from "../coordination/paths.js";
import { VERSION } from "../version.js";
import { DownstreamManager } from "../downstream/manager.js";
import { DEFAULT_TIMING } from "../downstream/downstream.js";
import { OAuthManager } from "../auth/manager.js";
import { join } from "node:path";

export { runStandalone } from "./standalone.js";
export { runPrimary } from "./primary.js";
export { Registry } from "../tools/registry.js";

/** Builds the shared registry for a process in the given role. */
export function createRegistry(mode: GatewayState["mode"], paths: StatePaths, sessionCount: () => number = () => 0): Registry {
  const state: GatewayState = {
    version: VERSION,
    mode,
    startedAt: new Date(),
    stateDir: paths.stateDir,
    configPath: paths.configFile,
    sessionCount,
    toolNames: () => registry.names(),
  };
  const registry = new Registry(builtinTools, state);
  return registry;
}

/** A positive number of milliseconds from the environment, or undefined. */
function envMs(name: string): number | undefined {
  const ms = Number(process.env[name]?.trim() || NaN);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * The downstream servers of `paths.configFile`, plugged into the registry as a tool provider; call `start()`
 * once the process serves clients. CLAUDE_MPM_GATEWAY_PING_MS and CLAUDE_MPM_GATEWAY_BACKOFF_MS shorten the
 * health-check interval and the first restart delay (tests).
 */
export function createDownstream(paths: StatePaths, registry: Registry): DownstreamManager & { oauth: OAuthManager } {
  const timing = { ...DEFAULT_TIMING };
  const ping = envMs("CLAUDE_MPM_GATEWAY_PING_MS");
  if (ping) Object.assign(timing, { pingIntervalMs: ping, pingTimeoutMs: Math.min(ping, timing.pingTimeoutMs) });
  const backoff = envMs("CLAUDE_MPM_GATEWAY_BACKOFF_MS");
  if (backoff) timing.backoffBaseMs = backoff;
  const manager = new DownstreamManager({ configPath: paths.configFile, reserved: registry.names(), timing });
  // Tokens live beside the primary's lock: one primary per state dir is the one refresher of each grant.
  const oauth = new OAuthManager(join(paths.stateDir, "oauth"), (name) => manager.remoteServer(name));
  manager.useOAuth(oauth);
  registry.addProvider(manager);
  return Object.assign(manager, { oauth });
}
