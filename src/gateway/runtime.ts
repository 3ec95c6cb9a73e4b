// The lazy boundary: everything that needs the MCP SDK is reached through this module, which the CLI
// loads with a dynamic import, so the bridge, --version and --status never evaluate the SDK.
import { builtinTools } from "../tools/builtin.js";
import { Registry } from "../tools/registry.js";
import type { GatewayState } from "../tools/types.js";
import type { StatePaths } from "../coordination/paths.js";
import { VERSION } from "../version.js";

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
