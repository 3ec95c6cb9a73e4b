import { homedir } from "node:os";
import { CLIENT_NAMES, clientConfigLocation, currentHost, selectClients, type ClientId, type HostContext } from "../clients/clientConfigs.js";
import { describeEdit, planInstall, planUninstall, type Edit, type ServerEntry } from "../clients/configEdit.js";
import { ConcurrentChangeError, readConfigFile, writeConfigFile } from "../clients/configFile.js";
import { statePaths, type StatePaths } from "../coordination/paths.js";
import { selfCommand } from "../coordination/spawnPrimary.js";
import { loadConfig } from "../downstream/config.js";
import { cursorNameLimit } from "../profiles/nameLimit.js";
import { profileFor } from "../profiles/view.js";
import { localHttpEndpoint, type LocalEndpoint } from "../http/localEndpoint.js";
import { withSessionQuery } from "../http/sessionQuery.js";
import { describeError, GatewayError, isGatewayError } from "../errors.js";
import { GATEWAY_NAME } from "../version.js";
import { EXIT } from "./exitCodes.js";

/** The flags `install` and `uninstall` share. */
export interface InstallOptions {
  client?: string | string[];
  name?: string;
  dryRun?: boolean;
  /** stdio (the client launches the binary) or http (it connects to the primary's HTTP endpoint). */
  transport?: string;
  /** The profile the installed clients are served (`--profile` in their entry). */
  profile?: string;
}

/** What the commands need from the outside world; tests pass their own. */
export interface InstallDeps {
  host: HostContext;
  /** How a client should launch this gateway. */
  command: { command: string; args: string[] };
  out: (line: string) => void;
  now: () => Date;
  /** The primary's HTTP endpoint and token, for `--transport http`. */
  httpEndpoint?: () => LocalEndpoint;
  /** The gateway's config.json, whose profiles `--profile` must name (default: this user's). */
  configPath?: string;
}

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
// A client that saves its own config between our read and our write wins; we re-plan on its new content.
const ATTEMPTS = 3;

/** The real world's dependencies; with `paths`, `--transport http` can name this installation's endpoint. */
export function installDeps(paths?: StatePaths): InstallDeps {
  return {
    host: currentHost(homedir()),
    command: selfCommand(),
    out: (l) => process.stdout.write(`${l}\n`),
    now: () => new Date(),
    ...(paths ? { httpEndpoint: () => localHttpEndpoint(paths) } : {}),
    ...(paths ? { configPath: paths.configFile } : {}),
  };
}

/**
 * The entry for one client, named `name` in its config: Claude Code's own `claude mcp add` also records the
 * transport type; Cursor's carries its tool name limit (it counts the entry's name too); `profile` is passed on.
 */
export function serverEntry(client: ClientId, launch: { command: string; args: string[] }, name: string, profile?: string): ServerEntry {
  const args = [
    ...launch.args,
    ...(profile !== undefined ? ["--profile", profile] : []),
    ...(client === "cursor" ? ["--max-name-length", String(cursorNameLimit(name))] : []),
  ];
  const base: ServerEntry = args.length ? { command: launch.command, args } : { command: launch.command };
  return client === "claude-code" ? { type: "stdio", ...base } : base;
}

/**
 * The entry of a client that connects by URL, with the bearer token in its headers: Claude Code's
 * `{ "type": "http", "url", "headers" }`, Cursor's `{ "url", "headers" }`; the profile and Cursor's name
 * limit ride in the URL's query, as `--profile` and `--max-name-length` do on a command line. Claude
 * Desktop adds remote servers in its settings (Connectors), not in its config file.
 */
export function httpServerEntry(client: ClientId, endpoint: LocalEndpoint, name: string, profile?: string): ServerEntry {
  if (client === "claude-desktop") {
    throw new GatewayError("USAGE", "Claude Desktop takes no URL entries in its config file: install it with --transport stdio (the default)");
  }
  const url = withSessionQuery(endpoint.url, { profile, ...(client === "cursor" ? { maxNameLength: cursorNameLimit(name) } : {}) });
  const entry = { url, headers: { Authorization: `Bearer ${endpoint.token}` } };
  return client === "claude-code" ? { type: "http", ...entry } : entry;
}

const VERB: Record<Edit["action"], [done: string, planned: string, preposition: string]> = {
  add: ["added", "would add", "to"],
  update: ["updated", "would update", "in"],
  remove: ["removed", "would remove", "from"],
  unchanged: ["already installed", "already installed", "in"],
  absent: ["not installed", "not installed", "in"],
};

/** Applies one client's edit (or shows it, with --dry-run); returns true when the file was changed. */
function applyToClient(mode: "install" | "uninstall", client: ClientId, name: string, opts: InstallOptions, deps: InstallDeps): boolean {
  const { file } = clientConfigLocation(client, deps.host);
  const entry = (): ServerEntry =>
    opts.transport === "http" ? httpServerEntry(client, deps.httpEndpoint!(), name, opts.profile) : serverEntry(client, deps.command, name, opts.profile);
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const snapshot = readConfigFile(file);
    const edit =
      mode === "install" ? planInstall(file, snapshot.text, name, entry()) : planUninstall(file, snapshot.text, name);
    const [done, planned, prep] = VERB[edit.action];
    if (edit.action === "unchanged" || edit.action === "absent") {
      deps.out(`${client}: ${name} ${done} ${prep} ${file}`);
      return false;
    }
    if (opts.dryRun) {
      deps.out(`${client}: ${planned} ${name} ${prep} ${file}${snapshot.text === undefined ? " (new file)" : ""}`);
      describeEdit(name, edit).forEach((l) => deps.out(l));
      return false;
    }
    try {
      const wrote = writeConfigFile(snapshot, edit.text, deps.now());
      const owner = wrote.owner ? `; owner kept: uid ${wrote.owner.uid}, gid ${wrote.owner.gid}` : "";
      deps.out(`${client}: ${done} ${name} ${prep} ${file} (${wrote.backup ? `backup: ${wrote.backup}` : "new file"}${owner})`);
      return true;
    } catch (err) {
      if (!(err instanceof ConcurrentChangeError)) throw err;
    }
  }
  throw new GatewayError("CLIENT_CONFIG", `${file} kept changing while it was being edited; quit ${CLIENT_NAMES[client]} and retry`);
}

/**
 * `install` / `uninstall`: adds or removes the gateway's entry in each chosen client's config. Every client
 * is attempted; a malformed config is reported (CLIENT_CONFIG, exit 1) and left untouched.
 */
export async function installCommand(mode: "install" | "uninstall", opts: InstallOptions, deps: InstallDeps = installDeps()): Promise<number> {
  const name = opts.name === undefined ? GATEWAY_NAME : String(opts.name);
  if (!NAME_PATTERN.test(name)) throw new GatewayError("USAGE", `--name must match ${NAME_PATTERN.source}`);
  if (opts.transport !== undefined && opts.transport !== "stdio" && opts.transport !== "http") {
    throw new GatewayError("USAGE", `--transport must be stdio or http, not "${String(opts.transport)}"`);
  }
  if (opts.transport === "http" && mode === "install") {
    if (!deps.httpEndpoint) throw new GatewayError("USAGE", "--transport http: no state dir to read the endpoint from");
    deps.httpEndpoint(); // an endpoint that is off is one clear error, before any client's file is read
  }
  // A client given a profile the config lacks would get errors only: say so now, before any file changes.
  if (opts.profile !== undefined) {
    if (mode === "uninstall") throw new GatewayError("USAGE", "--profile is for install");
    opts = { ...opts, profile: String(opts.profile) };
    const config = deps.configPath ?? statePaths().configFile;
    profileFor(loadConfig(config).profiles, opts.profile, config);
  }
  const clients = selectClients(opts.client, deps.host);
  const failures: GatewayError[] = [];
  const changed: ClientId[] = [];
  for (const client of clients) {
    try {
      if (applyToClient(mode, client, name, opts, deps)) changed.push(client);
    } catch (err) {
      failures.push(isGatewayError(err) ? err : new GatewayError("CLIENT_CONFIG", `${client}: ${describeError(err)}`, { cause: err }));
    }
  }
  if (changed.length) deps.out(`Restart ${changed.map((c) => CLIENT_NAMES[c]).join(", ")} to pick up the change.`);
  if (failures.length === 1) throw failures[0]!;
  if (failures.length > 1) throw new GatewayError("CLIENT_CONFIG", failures.map((f) => f.message).join("\n  "));
  return EXIT.OK;
}
