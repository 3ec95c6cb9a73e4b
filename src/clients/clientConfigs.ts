import { existsSync } from "node:fs";
import { posix, win32 } from "node:path";
import { GatewayError } from "../errors.js";

/** The MCP clients whose config `install` knows how to edit. */
export const CLIENT_IDS = ["claude-desktop", "claude-code", "cursor"] as const;
export type ClientId = (typeof CLIENT_IDS)[number];

/** Display names, for messages a user reads. */
export const CLIENT_NAMES: Record<ClientId, string> = {
  "claude-desktop": "Claude Desktop",
  "claude-code": "Claude Code",
  cursor: "Cursor",
};

/** Where to look: passed in rather than read from the process, so every OS's layout is testable anywhere. */
export interface HostContext {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  homedir: string;
}

/** One client's config file, and the paths whose existence shows that the client is installed. */
export interface ClientConfigLocation {
  client: ClientId;
  file: string;
  /** The file or any of these folders existing means the user has this client. */
  markers: string[];
}

/** The current process's host context. */
export function currentHost(homedir: string): HostContext {
  return { platform: process.platform, env: process.env, homedir };
}

/** The config file location of one client on the given host. */
export function clientConfigLocation(client: ClientId, host: HostContext): ClientConfigLocation {
  const path = host.platform === "win32" ? win32 : posix;
  const home = host.homedir;
  switch (client) {
    case "claude-desktop": {
      const dir = claudeDesktopDir(host);
      return { client, file: path.join(dir, "claude_desktop_config.json"), markers: [dir] };
    }
    case "claude-code": {
      // Claude Code moves its whole config, ~/.claude.json included, under CLAUDE_CONFIG_DIR when set.
      const custom = nonEmpty(host.env.CLAUDE_CONFIG_DIR);
      if (custom && path.isAbsolute(custom)) return { client, file: path.join(custom, ".claude.json"), markers: [custom] };
      return { client, file: path.join(home, ".claude.json"), markers: [path.join(home, ".claude")] };
    }
    case "cursor": {
      const dir = path.join(home, ".cursor");
      return { client, file: path.join(dir, "mcp.json"), markers: [dir] };
    }
  }
}

function claudeDesktopDir(host: HostContext): string {
  const path = host.platform === "win32" ? win32 : posix;
  if (host.platform === "darwin") return path.join(host.homedir, "Library", "Application Support", "Claude");
  if (host.platform === "win32") {
    const appData = nonEmpty(host.env.APPDATA) ?? path.join(host.homedir, "AppData", "Roaming");
    return path.join(appData, "Claude");
  }
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = nonEmpty(host.env.XDG_CONFIG_HOME);
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(host.homedir, ".config"), "Claude");
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

/** True when the client's config file or one of its marker folders exists. */
export function isClientPresent(location: ClientConfigLocation, exists: (p: string) => boolean = existsSync): boolean {
  return [location.file, ...location.markers].some((p) => exists(p));
}

/**
 * Resolves `--client` (a name, `all`, a comma-separated list, or repeated) to client ids; with none given,
 * every client present on this host. Throws USAGE for an unknown name, CLIENT_CONFIG when none is found.
 */
export function selectClients(
  requested: string | string[] | undefined,
  host: HostContext,
  exists: (p: string) => boolean = existsSync,
): ClientId[] {
  const names = (Array.isArray(requested) ? requested : requested === undefined ? [] : [requested])
    .flatMap((r) => String(r).split(","))
    .map((r) => r.trim())
    .filter(Boolean);
  if (names.length === 0) {
    const found = CLIENT_IDS.filter((c) => isClientPresent(clientConfigLocation(c, host), exists));
    if (found.length === 0) {
      const looked = CLIENT_IDS.map((c) => clientConfigLocation(c, host).markers[0]).join(", ");
      throw new GatewayError("CLIENT_CONFIG", `no MCP client found (looked for ${looked}); name one with --client ${CLIENT_IDS.join("|")}|all`);
    }
    return found;
  }
  const chosen = new Set<ClientId>();
  for (const name of names) {
    if (name === "all") CLIENT_IDS.forEach((c) => chosen.add(c));
    else if ((CLIENT_IDS as readonly string[]).includes(name)) chosen.add(name as ClientId);
    else throw new GatewayError("USAGE", `unknown client "${name}"; one of ${CLIENT_IDS.join(", ")}, all`);
  }
  return CLIENT_IDS.filter((c) => chosen.has(c));
}
