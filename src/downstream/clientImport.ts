// `import --from <client>`: what a client's existing mcpServers would become in the gateway's config.
// Where each client keeps its config, and how it is read, is install's business (src/clients/): reused here.
import { posix, win32 } from "node:path";
import { CLIENT_NAMES, type ClientId } from "../clients/clientConfigs.js";
import { parseClientConfig } from "../clients/configEdit.js";
import { readConfigFile } from "../clients/configFile.js";
import { GatewayError } from "../errors.js";
import { GATEWAY_NAME } from "../version.js";
import { parseConfig } from "./config.js";

/** What importing would do: entries to copy, and the names left out with the reason. */
export interface ImportPlan {
  add: Array<[name: string, entry: unknown]>;
  skipped: Array<{ name: string; reason: string }>;
}

/** Reads a client's config and returns its raw `mcpServers` entries (none when it has no such key). */
export function readClientServers(client: ClientId, file: string): Record<string, unknown> {
  const { text } = readConfigFile(file);
  const title = CLIENT_NAMES[client];
  if (text === undefined) throw new GatewayError("CLIENT_CONFIG", `no ${title} config at ${file}: is ${title} installed and set up for this user?`);
  const { data } = parseClientConfig(file, text);
  return isObject(data.mcpServers) ? data.mcpServers : {};
}

/** Decides, entry by entry, what `import` copies next to the gateway's `existing` server names. */
export function planImport(source: Record<string, unknown>, existing: Iterable<string>, file: string): ImportPlan {
  const taken = new Set(existing);
  const plan: ImportPlan = { add: [], skipped: [] };
  for (const [name, entry] of Object.entries(source)) {
    if (isGatewayEntry(name, entry)) {
      plan.skipped.push({ name, reason: "the gateway itself" });
      continue;
    }
    if (taken.has(name)) {
      plan.skipped.push({ name, reason: "already in the gateway's config" });
      continue;
    }
    const unportable = whyNotPortable(entry);
    if (unportable) {
      plan.skipped.push({ name, reason: unportable });
      continue;
    }
    // An entry the gateway cannot run (e.g. Claude Code's "sse" type) would make the whole config invalid.
    try {
      parseConfig({ mcpServers: { [name]: entry } }, file);
    } catch (err) {
      plan.skipped.push({ name, reason: `not supported: ${unprefixed((err as Error).message, file)}` });
      continue;
    }
    plan.add.push([name, entry]);
    taken.add(name);
  }
  return plan;
}

/** True for a client entry that launches this gateway: importing it would make the gateway run itself. */
export function isGatewayEntry(name: string, entry: unknown): boolean {
  if (name === GATEWAY_NAME) return true;
  if (!isObject(entry) || typeof entry.command !== "string") return false;
  // Client configs written on Windows use backslashes; win32.basename splits on both separators.
  const base = win32.basename(entry.command.trim()).toLowerCase();
  return base === GATEWAY_NAME || base === `${GATEWAY_NAME}.exe`;
}

/** A `${VAR}` or `${VAR:-default}` placeholder, which Claude Code expands in its configs and the gateway does not. */
const PLACEHOLDER = /\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}/;

/**
 * An argument that is plainly a relative path: ".", "..", or one starting with "./" or "../" (either
 * slash). Other words with a slash are left alone: "@scope/package" and "--opt=a/b" are not paths.
 */
function isRelativeArg(value: string): boolean {
  return /^\.\.?(?:$|[\\/])/.test(value);
}

/** A command with a folder in it that is not absolute ("bin/server"); a bare name is looked up on PATH. */
function isRelativeCommand(value: string): boolean {
  return isRelativeArg(value) || (/[\\/]/.test(value) && !posix.isAbsolute(value) && !win32.isAbsolute(value));
}

function strings(value: unknown, at: string): Array<[where: string, text: string]> {
  if (typeof value === "string") return [[at, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${at}[${i}]`));
  if (isObject(value)) return Object.entries(value).flatMap(([k, v]) => strings(v, `${at}.${k}`));
  return [];
}

/**
 * Why an entry would not mean the same under the gateway, or undefined. Copied literally, a `${VAR}` would
 * reach the server as those very characters, and a relative path (".", "./data", a relative cwd) would be
 * resolved against the primary's working dir, the home: a filesystem server given "." would expose the
 * whole home to every client. Such entries are skipped, naming what to fix, never copied half-working.
 */
export function whyNotPortable(entry: unknown): string | undefined {
  if (!isObject(entry)) return undefined;
  for (const [where, text] of strings(entry, "entry")) {
    const placeholder = PLACEHOLDER.exec(text)?.[0];
    if (placeholder) return `${where.slice(6)} uses ${placeholder}, which the client expands and the gateway does not: add it with the value itself (claude-mpm-gateway add)`;
  }
  const paths: Array<[string, unknown]> = [
    ["command", entry.command],
    ["cwd", entry.cwd],
    ...(Array.isArray(entry.args) ? entry.args.map((a, i): [string, unknown] => [`args[${i}]`, a]) : []),
  ];
  for (const [where, value] of paths) {
    if (typeof value !== "string") continue;
    const relative = where === "cwd" ? !posix.isAbsolute(value) && !win32.isAbsolute(value) : where === "command" ? isRelativeCommand(value) : isRelativeArg(value);
    if (relative) return `${where} is the relative path ${JSON.stringify(value)}, which would mean a folder under the gateway's working dir (your home), not the client's: add it with an absolute path`;
  }
  return undefined;
}

function unprefixed(message: string, file: string): string {
  return message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
