import type { SessionRequest } from "../coordination/handshake.js";
import { statePaths, type StatePaths } from "../coordination/paths.js";
import { parseLogLevel, type LogLevel } from "../log.js";
import { parseNameLimit } from "../profiles/nameLimit.js";

/** What a plain client launch asks for: the bridge, with these paths, view and log level. */
export interface BridgeLaunch {
  paths: StatePaths;
  session: SessionRequest;
  level?: LogLevel;
}

/** The options a client's entry may carry on the bridge's command line, each taking one value. */
const VALUED = new Set(["--profile", "--max-name-length", "--config", "--log-level"]);

/**
 * Recognises the command line every client launch has (no command; only `--profile`, `--max-name-length`,
 * `--config`, `--log-level`, each once, with a valid value), so the binary can start the bridge without
 * evaluating the rest of the program. Anything else, a mistake included, is undefined: the full command line
 * parser (cac, in cli/index.ts) then handles it, with its help and its error messages, and reaches the same
 * bridge for the same valid arguments.
 */
export function bridgeLaunch(argv: readonly string[], env: NodeJS.ProcessEnv): BridgeLaunch | undefined {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!VALUED.has(name) || values.has(name)) return undefined;
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "" || value.startsWith("-")) return undefined;
    values.set(name, value);
  }
  const levelText = values.get("--log-level") ?? env.CLAUDE_MPM_LOG_LEVEL;
  const level = levelText === undefined ? undefined : parseLogLevel(levelText);
  if (levelText !== undefined && !level) return undefined;
  const session: SessionRequest = {};
  const profile = values.get("--profile");
  if (profile !== undefined) session.profile = profile;
  const limit = values.get("--max-name-length");
  if (limit !== undefined) {
    try {
      session.maxNameLength = parseNameLimit(limit);
    } catch {
      return undefined;
    }
  }
  return { paths: statePaths(env, values.get("--config")), session, ...(level ? { level } : {}) };
}
