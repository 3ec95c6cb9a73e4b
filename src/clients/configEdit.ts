// Edits go through jsonc-parser (Microsoft's, the parser VS Code edits settings.json with): its modify()
// computes a minimal text edit for one JSON path, so a config's numbers (12345678901234567890, 1.0),
// comments, key order and layout survive byte for byte, which no parse-and-stringify can promise.
import { applyEdits, format, modify, parseTree, printParseErrorCode, type JSONPath, type Node, type ParseError } from "jsonc-parser";
import { GatewayError } from "../errors.js";

/** The entry `install` writes under `mcpServers.<name>`: a command to launch, or a URL to connect to. */
export type ServerEntry = { type?: "stdio"; command: string; args?: string[] } | { type?: "http"; url: string; headers?: Record<string, string> };

/** What an install or uninstall would do to one config file's text. */
export type Edit =
  | { action: "add" | "update"; before: unknown; after: Record<string, unknown>; text: string }
  | { action: "remove"; before: unknown; text: string }
  | { action: "unchanged"; before: unknown }
  | { action: "absent" };

/** How the existing file was laid out, so an edit matches it. */
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

/**
 * A parse tree's value with every key an own property, as JSON.parse makes them: jsonc-parser's parse assigns
 * keys, so a server named "__proto__" became the object's prototype and vanished from every edit.
 */
function valueOf(node: Node | undefined): unknown {
  if (node?.type === "array") return (node.children ?? []).map(valueOf);
  if (node?.type !== "object") return node?.value;
  const obj: JsonObject = {};
  for (const [key, value] of (node.children ?? []).map((p) => p.children ?? [])) {
    if (key) Object.defineProperty(obj, String(key.value), { value: valueOf(value), enumerable: true, writable: true, configurable: true });
  }
  return obj;
}

function detectFormat(text: string): TextFormat {
  const indent = /^[{[][^\n]*\r?\n(?:[ \t]*\r?\n)*([ \t]+)\S/.exec(text.replace(/^\uFEFF/, ""))?.[1] ?? "  ";
  return { indent, eol: text.includes("\r\n") ? "\r\n" : "\n", bom: text.startsWith("\uFEFF"), finalNewline: /\n$/.test(text) };
}

function render(data: JsonObject, f: TextFormat): string {
  const body = JSON.stringify(data, null, f.indent).replace(/\n/g, f.eol);
  return `${f.bom ? "\uFEFF" : ""}${body}${f.finalNewline ? f.eol : ""}`;
}

/**
 * Parses a client config's text (undefined: the file does not exist). Whitespace only counts as `{}`; a
 * UTF-8 BOM (Notepad) and comments (Cursor reads JSONC) are tolerated. Anything that is not a JSON object
 * with an object `mcpServers` throws CLIENT_CONFIG naming the file, because editing a file we do not
 * understand could destroy the user's work. `data` is for reading only: numbers beyond double precision
 * are rounded there, which is why edits are made to the text, never by re-serializing `data`.
 */
export function parseClientConfig(file: string, text: string | undefined): { data: JsonObject; format: TextFormat } {
  if (text === undefined || text.replace(/^\uFEFF/, "").trim() === "") return { data: {}, format: text ? detectFormat(text) : NEW_FILE };
  const errors: ParseError[] = [];
  const data = valueOf(parseTree(text.replace(/^\uFEFF/, ""), errors, { allowTrailingComma: false, disallowComments: false }));
  if (errors.length) {
    const e = errors[0]!;
    throw new GatewayError("CLIENT_CONFIG", `${file} is not valid JSON (${printParseErrorCode(e.error)} at offset ${e.offset}); fix or move it, then retry: it was left untouched`);
  }
  if (!isObject(data)) throw new GatewayError("CLIENT_CONFIG", `${file}: the top level is ${kind(data)}, expected a JSON object; it was left untouched`);
  if ("mcpServers" in data && !isObject(data.mcpServers)) {
    throw new GatewayError("CLIENT_CONFIG", `${file}: "mcpServers" is ${kind(data.mcpServers)}, expected an object; it was left untouched`);
  }
  return { data, format: detectFormat(text) };
}

/**
 * Sets (or, with undefined, removes) the value at `path` by a minimal text edit: jsonc-parser's modify finds
 * the span, and only the inserted text is formatted (its own formatting would re-flow the whole line the
 * edit starts on), so every other byte, comments and number spellings included, stays as it was.
 */
function editAt(text: string, path: JSONPath, value: unknown, f: TextFormat): string {
  const [change] = modify(text, path, value, {});
  if (!change) return text;
  const next = applyEdits(text, [change]);
  if (!change.content) return next;
  const tabs = f.indent.startsWith("\t");
  const options = { insertSpaces: !tabs, tabSize: tabs ? 1 : f.indent.length, eol: f.eol, keepLines: false };
  return applyEdits(next, format(next, { offset: change.offset, length: change.content.length }, options));
}

/**
 * Edits `mcpServers[name]` in the text: `entry` undefined removes it. An `mcpServers` left empty, or filled
 * from empty, is rewritten whole so it reads `{}` or opens on its own line; an empty top level is rendered.
 */
function editEntry(text: string | undefined, data: JsonObject, f: TextFormat, name: string, entry: JsonObject | undefined, before: unknown): string {
  const servers = (data.mcpServers ?? {}) as JsonObject;
  if (text === undefined || Object.keys(data).length === 0) return render({ mcpServers: entry ? { [name]: entry } : {} }, f);
  const bom = text.startsWith("\uFEFF") ? "\uFEFF" : "";
  let body = text.slice(bom.length);
  const others = Object.keys(servers).filter((k) => k !== name);
  if (!entry) body = editAt(body, others.length ? ["mcpServers", name] : ["mcpServers"], others.length ? undefined : {}, f);
  else if (others.length === 0 && before === undefined && "mcpServers" in data) body = editAt(body, ["mcpServers"], { [name]: entry }, f);
  else if (!isObject(before)) body = editAt(body, ["mcpServers", name], entry, f);
  else {
    // Only our keys change inside an existing entry: the user's env, cwd… keep their bytes.
    for (const key of OUR_KEYS) {
      if (key in entry) {
        if (!jsonEqual(before[key], entry[key])) body = editAt(body, ["mcpServers", name, key], entry[key], f);
      } else if (key in before) body = editAt(body, ["mcpServers", name, key], undefined, f);
    }
  }
  return bom + body;
}

/** The keys of an entry that `install` owns; any other key of an existing entry is the user's. */
const OUR_KEYS = ["type", "command", "args", "url", "headers"] as const;

/** Refuses an edited text that differs from the plan anywhere but the one entry (a safety net). */
function verified(file: string, text: string, data: JsonObject, name: string, entry: JsonObject | undefined): string {
  const after = parseClientConfig(file, text).data;
  const strip = (d: JsonObject) => ({ ...d, mcpServers: Object.fromEntries(Object.entries((d.mcpServers ?? {}) as JsonObject).filter(([k]) => k !== name)) });
  const servers = (after.mcpServers ?? {}) as JsonObject;
  if (!jsonEqual(strip(after), strip(data)) || !jsonEqual(servers[name], entry)) {
    throw new GatewayError("CLIENT_CONFIG", `${file}: the edit would change more than the "${name}" entry; it was left untouched (please report this)`);
  }
  return text;
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
  const kept = isObject(existing) ? Object.fromEntries(Object.entries(existing).filter(([k]) => !(OUR_KEYS as readonly string[]).includes(k))) : {};
  return { ...entry, ...kept };
}

/** Plans adding (or updating) `mcpServers[name]`; every other byte of the file is kept. */
export function planInstall(file: string, text: string | undefined, name: string, entry: ServerEntry): Edit {
  const { data, format } = parseClientConfig(file, text);
  const servers = (data.mcpServers ?? {}) as JsonObject;
  const before = servers[name];
  const after = mergeEntry(before, entry);
  if (before !== undefined && jsonEqual(before, after)) return { action: "unchanged", before };
  const blank = text === undefined || text.replace(/^\uFEFF/, "").trim() === "";
  const next = editEntry(blank ? undefined : text, data, format, name, after, before);
  return { action: before === undefined ? "add" : "update", before, after, text: verified(file, next, data, name, after) };
}

/** Plans removing `mcpServers[name]`; every other byte of the file is kept. */
export function planUninstall(file: string, text: string | undefined, name: string): Edit {
  const { data, format } = parseClientConfig(file, text);
  const servers = data.mcpServers as JsonObject | undefined;
  if (!servers || !(name in servers)) return { action: "absent" };
  const next = editEntry(text, data, format, name, undefined, servers[name]);
  return { action: "remove", before: servers[name], text: verified(file, next, data, name, undefined) };
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
