import type { StatePaths } from "../coordination/paths.js";
import { selfCommand } from "../coordination/spawnPrimary.js";

/**
 * The program a bridge or `restart` starts as the primary of `paths`: this binary, told the client's own
 * config when it is not the default one, so the primary it starts serves that config (from its own state
 * sub-dir) and never the default one.
 */
export function primaryProgram(paths: StatePaths): { command: string; args: string[] } {
  const self = selfCommand();
  return paths.ownConfig ? { command: self.command, args: [...self.args, "--config", paths.ownConfig] } : self;
}
