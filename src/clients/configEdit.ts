import { GatewayError } from "../errors.js";

/** The entry `install` writes under `mcpServers.<name>`: a command to launch, or a URL to connect to. */
export type ServerEntry = { type?: "stdio"; command: string; args?: string[] } | { type?: "http"; url: string; headers?: Record<string, string> };

/** What an install or uninstall would do to one config file's text. */
export type Edit =
  | { action: "add" | "update"; before: unknown; after: Record<string, unknown>; text: string }
  | { action: "remove"; before: unknown; text: string }
  | { action: "unchanged"; before: unknown }
  | { action: "absent" };

/** How the existing file was laid out, so a rewrite changes only what it must. */
interface TextFormat {
  indent: string;
  eol: string;
  bom: boolean;
  finalNewline: boolean;
}

type JsonObject = Record<string, unknown>;

const NEW_FILE: TextFormat = { indent: "  ", eol: "\n", bom: false, finalNewline: true };

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`;
}

function detectFormat(text: string): TextFormat {
  const indent = /^[{[][ \t]*\r?\n([ \t]+)\S/.exec(text.replace(/^\uFEFF/, ""))?.[1] ?? "  ";
  return { indent, eol: text.includes("\r\n") ? "\r\n" : "\n", bom: text.startsWith("\uFEFF"), finalNewline: /\n$/.test(text) };
}

function render(data: JsonObject, f: TextFormat): string {
  const body = JSON.stringify(data, null, f.indent).replace(/\n/g, f.eol);
  return `${f.bom ? "\uFEFF" : ""}${body}${f.finalNewline ? f.eol : ""}`;
}

/**
 * Parses a client config's text (undefined: the file does not exist). Whitespace only counts as `{}`; a
 * UTF-8 BOM (Notepad) is tolerated. Anything that is not a JSON object with an object `mcpServers` throws
 * CLIENT_CONFIG naming the file, because rewriting a file we do not understand could destroy the user's work.
 */
export function parseClientConfig(file: string, text: string | undefined): { data: JsonObject; format: TextFormat } {
  if (text === undefined || text.replace(/^\uFEFF/, "").trim() === "") return { data: {}, format: text ? detectFormat(text) : NEW_FILE };
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (err) {
    throw new GatewayError("CLIENT_CONFIG", `${file} is not valid JSON (${(err as Error).message}); fix or move it, then retry: it was left untouched`);
  }
  if (!isObject(data)) throw new GatewayError("CLIENT_CONFIG", `${file}: the top level is ${kind(data)}, expected a JSON object; it was left untouched`);
  if ("mcpServers" in data && !isObject(data.mcpServers)) {
    throw new GatewayError("CLIENT_CONFIG", `${file}: "mcpServers" is ${kind(data.mcpServers)}, expected an object; it was left untouched`);
  }
  return { data, format: detectFormat(text) };
}

/** Deep equality of JSON values, ignoring key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

/**
 * The entry to write: ours, plus whatever else the user added to an existing entry of that name (env, cwd,
 * a disabled flag…), which a reinstall from a new binary location must not throw away.
 */
function mergeEntry(existing: unknown, entry: ServerEntry): JsonObject {
  // What says how to reach the gateway is ours (headers too: a stale token must not outlive a reinstall).
  const kept = isObject(existing) ? Object.fromEntries(Object.entries(existing).filter(([k]) => !["type", "command", "args", "url", "headers"].includes(k))) : {};
  return { ...entry, ...kept };
}

/** Plans adding (or updating) `mcpServers[name]`; every other key of the file is kept. */
export function planInstall(file: string, text: string | undefined, name: string, entry: ServerEntry): Edit {
  const { data, format } = parseClientConfig(file, text);
  const servers = (data.mcpServers ?? {}) as JsonObject;
  const before = servers[name];
  const after = mergeEntry(before, entry);
  if (before !== undefined && jsonEqual(before, after)) return { action: "unchanged", before };
  const next = { ...data, mcpServers: { ...servers, [name]: after } };
  return { action: before === undefined ? "add" : "update", before, after, text: render(next, format) };
}

/** Plans removing `mcpServers[name]`; every other key of the file is kept. */
export function planUninstall(file: string, text: string | undefined, name: string): Edit {
  const { data, format } = parseClientConfig(file, text);
  const servers = data.mcpServers as JsonObject | undefined;
  if (!servers || !(name in servers)) return { action: "absent" };
  const rest = Object.fromEntries(Object.entries(servers).filter(([k]) => k !== name));
  return { action: "remove", before: servers[name], text: render({ ...data, mcpServers: rest }, format) };
}

/** The change as diff-like lines (`- ` old entry, `+ ` new entry), for --dry-run. */
export function describeEdit(name: string, edit: Edit): string[] {
  const lines = (sign: string, value: unknown) => `${JSON.stringify(name)}: ${JSON.stringify(value, null, 2)}`.split("\n").map((l) => `  ${sign} ${l}`);
  switch (edit.action) {
    case "add":
      return lines("+", edit.after);
    case "update":
      return [...lines("-", edit.before), ...lines("+", edit.after)];
    case "remove":
      return lines("-", edit.before);
    default:
      return [];
  }
}
