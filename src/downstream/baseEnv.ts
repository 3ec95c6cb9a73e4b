/**
 * The variables a downstream server inherits from the gateway, as MCP clients give their stdio servers
 * (Claude Desktop and the SDK's own stdio client pass a short fixed list): enough to find programs, a home,
 * a temp dir and the user's locale, and nothing else of whichever client happened to start the primary
 * (API keys, project settings). A server needs more? Its `env` in config.json says so.
 */
export const BASE_ENV_POSIX = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ"] as const;

/** Windows' essentials: a program cannot start without SystemRoot, npx.cmd not without PATHEXT and ComSpec. */
export const BASE_ENV_WINDOWS = [
  "PATH",
  "PATHEXT",
  "ComSpec",
  "SystemRoot",
  "SystemDrive",
  "windir",
  "APPDATA",
  "LOCALAPPDATA",
  "ProgramData",
  "ProgramFiles",
  "ProgramFiles(x86)",
  "CommonProgramFiles",
  "HOMEDRIVE",
  "HOMEPATH",
  "USERPROFILE",
  "USERNAME",
  "USERDOMAIN",
  "TEMP",
  "TMP",
  "PROCESSOR_ARCHITECTURE",
  "NUMBER_OF_PROCESSORS",
  "OS",
] as const;

/** The environment of a downstream server: the base variables present in `from`, then the server's own `env`. */
export function serverEnv(own: Record<string, string>, from: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): Record<string, string> {
  const names: readonly string[] = platform === "win32" ? BASE_ENV_WINDOWS : BASE_ENV_POSIX;
  const env: Record<string, string> = {};
  // Windows names are case-insensitive (Path, PATH): match them so, keeping the name the server expects.
  const lookup = platform === "win32" ? new Map(Object.keys(from).map((k) => [k.toUpperCase(), k])) : undefined;
  for (const name of names) {
    const key = lookup ? lookup.get(name.toUpperCase()) : name;
    const value = key === undefined ? undefined : from[key];
    // A value starting with "()" is an exported shell function: never a server's business, and a risk.
    if (value !== undefined && !value.startsWith("()")) env[name] = value;
  }
  return { ...env, ...own };
}
