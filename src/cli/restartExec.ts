import type { StatePaths } from "../coordination/paths.js";
import { checkExecutable } from "../coordination/executable.js";
import { GatewayError } from "../errors.js";
import { EXIT } from "./exitCodes.js";
import { restartCommand } from "./status.js";

/**
 * `restart --exec <path>`: hand the running gateway over to another binary (a release installed elsewhere,
 * or back to an older one: the user's explicit choice, so no version rule applies). The binary is checked
 * first (exists, executable, answers --version): a primary is never replaced by one that cannot start.
 */
export async function restartExecCommand(paths: StatePaths, path: unknown): Promise<number> {
  if (typeof path !== "string" || !path) throw new GatewayError("USAGE", "restart --exec needs the path of a claude-mpm-gateway binary");
  const target = await checkExecutable(path);
  // The binary's own arguments: only this client's --config (a source run's script path is not the binary's).
  const code = await restartCommand(paths, { command: target.path, args: paths.ownConfig ? ["--config", paths.ownConfig] : [] });
  if (code === EXIT.OK) process.stdout.write(`claude-mpm-gateway now runs ${target.version} from ${target.path}\n`);
  return code;
}
