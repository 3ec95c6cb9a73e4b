import { controlRequest, coordinatesFor } from "../coordination/client.js";
import type { StatePaths } from "../coordination/paths.js";
import type { PrimaryStatus } from "../coordination/status.js";
import { checkExecutable, probeVersion, type Program } from "../coordination/executable.js";
import { versionRelation } from "../coordination/upgrade.js";
import { GatewayError } from "../errors.js";
import { VERSION } from "../version.js";
import { EXIT } from "./exitCodes.js";
import { primaryProgram } from "./primaryProgram.js";
import { restartCommand } from "./status.js";

const out = (s: string) => process.stdout.write(s + "\n");

/** The binary's own arguments: only this client's --config (a source run's script path is not the binary's). */
const binaryArgs = (paths: StatePaths): string[] => (paths.ownConfig ? ["--config", paths.ownConfig] : []);

/**
 * `restart --exec <path>`: hand the running gateway over to another binary (a release installed elsewhere,
 * or back to an older one: the user's explicit choice, so no version rule applies). The binary is checked
 * first (exists, executable, answers --version): a primary is never replaced by one that cannot start.
 */
export async function restartExecCommand(paths: StatePaths, path: unknown): Promise<number> {
  if (typeof path !== "string" || !path) throw new GatewayError("USAGE", "restart --exec needs the path of a claude-mpm-gateway binary");
  const target = await checkExecutable(path);
  const code = await restartCommand(paths, { command: target.path, args: binaryArgs(paths) });
  if (code === EXIT.OK) out(`claude-mpm-gateway now runs ${target.version} from ${target.path}`);
  return code;
}

/**
 * `restart`: replace the running gateway by this binary, unless this binary is older than the one running:
 * a restart is not a downgrade (an older binary never replaces a newer gateway; `--exec` does, when asked),
 * so the running gateway's own binary is started again, once it is checked to still be that version.
 */
export async function restartPlainCommand(paths: StatePaths): Promise<number> {
  const running = await controlRequest<PrimaryStatus>(coordinatesFor(paths), "status", 3000);
  if (!running || versionRelation(VERSION, running.version) !== "older") return restartCommand(paths);
  const own: Program = { command: running.executable, args: binaryArgs(paths) };
  const found = await probeVersion(own).catch(() => undefined);
  if (found === undefined || versionRelation(found, running.version) === "older") {
    throw new GatewayError(
      "BAD_EXECUTABLE",
      `this binary (${VERSION}) is older than the running gateway (${running.version}), whose binary ${running.executable} ${found === undefined ? "no longer starts" : `is now ${found}`}: not restarted. Choose one with: restart --exec <path>`,
    );
  }
  out(`this binary (${VERSION}) is older than the running gateway (${running.version}): restarting it from its own binary ${running.executable} (${found}); to go back to this one: restart --exec ${primaryProgram(paths).command}`);
  return restartCommand(paths, own);
}
