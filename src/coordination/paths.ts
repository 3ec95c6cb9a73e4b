import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Where one installation keeps its gateway files. */
export interface StatePaths {
  home: string;
  stateDir: string;
  lockFile: string;
  instanceFile: string;
  tokenFile: string;
  configFile: string;
  logDir: string;
  logFile: string;
}

/** Resolves the state dir from CLAUDE_MPM_HOME (default ~/.claude-mpm) and an optional --config override. */
export function statePaths(env: NodeJS.ProcessEnv = process.env, configOverride?: string): StatePaths {
  const home = resolve(env.CLAUDE_MPM_HOME?.trim() || join(homedir(), ".claude-mpm"));
  const stateDir = join(home, "mcp");
  const logDir = join(stateDir, "logs");
  return {
    home,
    stateDir,
    lockFile: join(stateDir, "gateway.lock"),
    instanceFile: join(stateDir, "gateway.json"),
    tokenFile: join(stateDir, "gateway.token"),
    configFile: resolve(configOverride ?? env.CLAUDE_MPM_GATEWAY_CONFIG ?? join(stateDir, "config.json")),
    logDir,
    logFile: join(logDir, "gateway.log"),
  };
}
