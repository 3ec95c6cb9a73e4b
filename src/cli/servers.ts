// `add`, `remove`, `list`, `import`: the user's downstream servers in config.json, edited without a text editor.
import { homedir } from "node:os";
import { CLIENT_IDS, CLIENT_NAMES, clientConfigLocation, currentHost, type ClientId } from "../clients/clientConfigs.js";
import type { StatePaths } from "../coordination/paths.js";
import { planImport, readClientServers } from "../downstream/clientImport.js";
import { readConfigDocument, updateConfigFile } from "../downstream/configFile.js";
import type { ServerConfig } from "../downstream/config.js";
import { GatewayError } from "../errors.js";
import { GATEWAY_NAME } from "../version.js";
import { EXIT } from "./exitCodes.js";

const out = (s: string) => process.stdout.write(s + "\n");
const RELOAD_HINT = "A running gateway picks this up without a restart.";

/** Options of `add` as cac parses them (a repeated option is an array, a single one a scalar). */
export interface AddOptions {
  env?: unknown;
  url?: unknown;
  header?: unknown;
  /** OAuth settings of a remote server (see src/auth/provider.ts). */
  clientId?: unknown;
  clientSecret?: unknown;
  scope?: unknown;
  clientMetadataUrl?: unknown;
  force?: boolean;
  "--"?: string[];
}

/** `add <name> [--env K=V]… -- <command> [args…]` or `add <name> --url <url> [--header K=V]…`. */
export async function addCommand(paths: StatePaths, name: string, stray: string[], o: AddOptions): Promise<number> {
  if (!name.trim()) throw new GatewayError("USAGE", "the server name must not be empty");
  const entry = serverEntry(name, stray, o);
  const replaced = updateConfigFile(paths, (servers) => {
    const exists = Object.hasOwn(servers, name);
    if (exists && !o.force) return undefined;
    servers[name] = entry;
    return exists;
  });
  if (replaced === undefined) return fail(`"${name}" already exists in ${paths.configFile}; use --force to replace it`);
  out(replaced ? `replaced "${name}" in ${paths.configFile}` : `added "${name}" to ${paths.configFile}`);
  out(RELOAD_HINT);
  const headers = (entry.headers ?? {}) as Record<string, string>;
  if (entry.url && !Object.keys(headers).some((h) => h.toLowerCase() === "authorization")) {
    out(`If it asks for a sign-in: ${GATEWAY_NAME} auth login ${/^[\w.-]+$/.test(name) ? name : JSON.stringify(name)}`);
  }
  return EXIT.OK;
}

/** The `oauth` object of a remote entry from add's options, or undefined when none was given. */
function oauthEntry(o: AddOptions): Record<string, unknown> | undefined {
  const list = (v: unknown) => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  const oauth: Record<string, unknown> = {};
  if (o.clientId !== undefined) oauth.clientId = String(o.clientId);
  if (o.clientSecret !== undefined) {
    if (o.clientId === undefined) throw new GatewayError("USAGE", "--client-secret goes with --client-id");
    oauth.clientSecret = String(o.clientSecret);
  }
  if (o.scope !== undefined) oauth.scopes = list(o.scope).flatMap((s) => s.split(/\s+/)).filter(Boolean);
  if (o.clientMetadataUrl !== undefined) {
    const url = String(o.clientMetadataUrl);
    if (!/^https:\/\/[^/]+\/./.test(url)) throw new GatewayError("USAGE", `--client-metadata-url must be an https URL with a path, got "${url}"`);
    oauth.clientMetadataUrl = url;
  }
  return Object.keys(oauth).length ? oauth : undefined;
}

function serverEntry(name: string, stray: string[], o: AddOptions): Record<string, unknown> {
  const command = o["--"] ?? [];
  const example = `e.g. ${GATEWAY_NAME} add ${name} -- npx -y @modelcontextprotocol/server-memory`;
  if (stray.length) throw new GatewayError("USAGE", `put "--" before the server's command: ${GATEWAY_NAME} add ${name} -- ${stray.join(" ")}`);
  if (o.url !== undefined) {
    if (command.length) throw new GatewayError("USAGE", "give either --url (a remote server) or a command after -- (a local one), not both");
    if (o.env !== undefined) throw new GatewayError("USAGE", "--env applies to local servers; a remote server takes --header");
    const url = String(o.url);
    if (!isHttpUrl(url)) throw new GatewayError("USAGE", `--url must be an http(s) URL, got "${url}"`);
    const headers = pairs("--header", o.header);
    const oauth = oauthEntry(o);
    return { url, ...(Object.keys(headers).length ? { headers } : {}), ...(oauth ? { oauth } : {}) };
  }
  if (o.header !== undefined) throw new GatewayError("USAGE", "--header applies to remote servers (--url)");
  if (oauthEntry(o)) throw new GatewayError("USAGE", "--client-id, --client-secret, --scope and --client-metadata-url apply to remote servers (--url)");
  if (!command.length || !command[0]) throw new GatewayError("USAGE", `give the server's command after "--" (${example}) or --url <url>`);
  const env = pairs("--env", o.env);
  return { command: command[0], args: command.slice(1), ...(Object.keys(env).length ? { env } : {}) };
}

function pairs(flag: string, value: unknown): Record<string, string> {
  const result: Record<string, string> = {};
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  for (const item of list.map(String)) {
    const at = item.indexOf("=");
    if (at <= 0) throw new GatewayError("USAGE", `${flag} expects KEY=VALUE, got "${item}"`);
    result[item.slice(0, at)] = item.slice(at + 1);
  }
  return result;
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

/** `remove <name>`: exit 1 when no such server is configured. */
export async function removeCommand(paths: StatePaths, name: string): Promise<number> {
  const removed = updateConfigFile(paths, (servers) => {
    if (!Object.hasOwn(servers, name)) return false;
    delete servers[name];
    return true;
  });
  if (!removed) return fail(`no server named "${name}" in ${paths.configFile}; "${GATEWAY_NAME} list" shows them`);
  out(`removed "${name}" from ${paths.configFile}`);
  out(RELOAD_HINT);
  return EXIT.OK;
}

/** `list [--json]`: the configured servers; env and headers are left out of the table (they hold secrets). */
export async function listCommand(paths: StatePaths, opts: { json?: boolean }): Promise<number> {
  const { config, file } = readConfigDocument(paths.configFile);
  const entries = Object.entries(config.mcpServers);
  if (opts.json) {
    out(JSON.stringify(config.mcpServers, null, 2));
    return EXIT.OK;
  }
  if (!entries.length) {
    out(`no downstream servers in ${file}; add one with "${GATEWAY_NAME} add <name> -- <command> [args...]"`);
    return EXIT.OK;
  }
  const rows = [["NAME", "TYPE", "COMMAND / URL", "DISABLED"], ...entries.map(([name, s]) => [name, s.type, target(s), s.disabled ? "yes" : "no"])];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) out(r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join("  "));
  return EXIT.OK;
}

function target(s: ServerConfig): string {
  return s.type === "http" ? s.url : [s.command, ...s.args].map(shellQuote).join(" ");
}

// Shown so that a user can copy the command into a shell and run the server by hand.
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `import --from <client> [--dry-run]`: copies a client's mcpServers into the gateway's config. */
export async function importCommand(paths: StatePaths, o: { from?: unknown; dryRun?: boolean }): Promise<number> {
  const from = o.from === undefined ? "" : String(o.from);
  if (!(CLIENT_IDS as readonly string[]).includes(from)) {
    throw new GatewayError("USAGE", `${from ? `unknown client "${from}": ` : "import needs "}--from ${CLIENT_IDS.join("|")}`);
  }
  const client = from as ClientId;
  const source = clientConfigLocation(client, currentHost(homedir())).file;
  const servers = readClientServers(client, source);
  const title = CLIENT_NAMES[client];
  const current = readConfigDocument(paths.configFile);
  let done = planImport(servers, Object.keys(current.raw.mcpServers), source);
  if (done.add.length && !o.dryRun) {
    // Planned again inside the update: the file may have changed since it was read above.
    done = updateConfigFile(paths, (existing) => {
      const plan = planImport(servers, Object.keys(existing), source);
      for (const [name, entry] of plan.add) existing[name] = entry;
      return plan;
    });
  }
  const n = done.add.length;
  if (!n) out(`nothing to import from ${title} (${source})`);
  else out(`${o.dryRun ? "would import" : "imported"} ${n} server${n === 1 ? "" : "s"} from ${title} (${source}) into ${paths.configFile}:`);
  for (const [name] of done.add) out(`  + ${name}`);
  for (const s of done.skipped) out(`  - ${s.name}: skipped, ${s.reason}`);
  if (n && !o.dryRun) {
    out(RELOAD_HINT);
    out(`To have ${title} use them through the gateway, remove them from ${source}.`);
  }
  return EXIT.OK;
}

function fail(message: string): number {
  process.stderr.write(`${GATEWAY_NAME}: ${message}\n`);
  return EXIT.FAILURE;
}
