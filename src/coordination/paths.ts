import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

/** Where one installation keeps its gateway files. */
export interface StatePaths {
  home: string;
  stateDir: string;
  lockFile: string;
  instanceFile: string;
  tokenFile: string;
  configFile: string;
  /** The config a client named (--config or CLAUDE_MPM_GATEWAY_CONFIG) when it is not the default one. */
  ownConfig?: string;
  logDir: string;
  logFile: string;
}

/**
 * Resolves the state dir from CLAUDE_MPM_HOME (default ~/.claude-mpm) and an optional --config override.
 * A config other than the default one is served by a primary of its own: its lock, instance file, token
 * and log live in `mcp/configs/<hash of the config's real path>/`, so two clients naming different configs
 * never get each other's servers, and two naming one file (by any path to it) share one primary.
 */
export function statePaths(env: NodeJS.ProcessEnv = process.env, configOverride?: string): StatePaths {
  const home = resolve(env.CLAUDE_MPM_HOME?.trim() || join(homedir(), ".claude-mpm"));
  const mainDir = join(home, "mcp");
  const defaultConfig = join(mainDir, "config.json");
  const asked = configOverride ?? (env.CLAUDE_MPM_GATEWAY_CONFIG?.trim() || undefined);
  const configFile = resolve(asked ?? defaultConfig);
  const real = realPath(configFile);
  const own = asked !== undefined && real !== realPath(defaultConfig);
  const stateDir = own ? join(mainDir, "configs", createHash("sha256").update(real).digest("hex").slice(0, 16)) : mainDir;
  const logDir = join(stateDir, "logs");
  return {
    home,
    stateDir,
    lockFile: join(stateDir, "gateway.lock"),
    instanceFile: join(stateDir, "gateway.json"),
    tokenFile: join(stateDir, "gateway.token"),
    configFile,
    ...(own ? { ownConfig: configFile } : {}),
    logDir,
    logFile: join(logDir, "gateway.log"),
  };
}

/** What the file system calls a path (symlinks resolved), also for a file not created yet. */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}
