import { createHash } from "node:crypto";

/** What Claude Desktop (and the MCP spec's guidance) accepts as a tool name. */
export const EXPORTED_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const MAX = 64;
/** A long server name is cut to this before the tool name is touched: the tool part tells a model more. */
const MAX_PREFIX = 24;
const SEPARATOR = "__";

/** A downstream server's own name for a tool or prompt. */
export interface Original {
  server: string;
  name: string;
}

function hash(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

function sanitize(text: string): string {
  return text.replace(/[^a-zA-Z0-9_-]/g, "_") || "_";
}

/** The preferred exported name of a pair, before collisions are looked at; a pure function of the pair. */
export function candidateName(server: string, name: string): string {
  let prefix = sanitize(server);
  const local = sanitize(name);
  if (prefix.length + SEPARATOR.length + local.length <= MAX) return `${prefix}${SEPARATOR}${local}`;
  if (prefix.length > MAX_PREFIX) prefix = `${prefix.slice(0, MAX_PREFIX - 7)}_${hash(server, 6)}`;
  const full = `${prefix}${SEPARATOR}${local}`;
  if (full.length <= MAX) return full;
  return `${full.slice(0, MAX - 9)}_${hash(`${server}\0${name}`, 8)}`;
}

function isExact(o: Original, candidate: string): boolean {
  return candidate === `${o.server}${SEPARATOR}${o.name}`;
}

/**
 * `candidate` cut to at most `max` characters and ended with a hash of `key`, avoiding every name in `taken`:
 * stable for the same key, so a name shortened for a client's limit stays the same across restarts.
 */
export function hashedName(candidate: string, key: string, max: number, taken: ReadonlySet<string>): string {
  // Extending the hash resolves the (astronomically rare) case of a hashed name meeting a taken one.
  for (let length = 8; length <= 64 && length < max; length += 4) {
    const name = `${candidate.slice(0, max - length - 1)}_${hash(key, length)}`;
    if (!taken.has(name)) return name;
  }
  throw new Error(`no free name within ${max} characters for ${JSON.stringify(candidate)}`);
}

/** How every exported name of a server's tools and prompts begins (before any shortening). */
export function serverPrefix(server: string): string {
  return `${sanitize(server)}${SEPARATOR}`;
}

/**
 * The exported names of a set of (server, name) pairs: `<server>__<name>`, sanitized and shortened to fit
 * EXPORTED_NAME, unique, and never one of `reserved` (the built-ins). When two pairs want the same name, the one
 * whose name needed no change wins, then the one listed first; the others get a stable hash suffix.
 */
export class Namespace {
  private readonly byExported = new Map<string, Original>();
  private readonly byOriginal = new Map<string, string>();

  constructor(entries: Iterable<Original>, reserved: Iterable<string> = []) {
    const taken = new Set(reserved);
    const groups = new Map<string, Original[]>();
    for (const o of entries) {
      if (this.byOriginal.has(key(o))) continue;
      this.byOriginal.set(key(o), "");
      const c = candidateName(o.server, o.name);
      const group = groups.get(c);
      if (group) group.push(o);
      else groups.set(c, [o]);
    }
    const losers: Array<[Original, string]> = [];
    for (const [c, group] of groups) {
      const winner = taken.has(c) ? undefined : (group.find((o) => isExact(o, c)) ?? group[0]);
      for (const o of group) {
        if (o === winner) this.assign(o, c, taken);
        else losers.push([o, c]);
      }
    }
    for (const [o, c] of losers) this.assign(o, hashedName(c, key(o), MAX, taken), taken);
  }

  private assign(o: Original, exported: string, taken: Set<string>): void {
    taken.add(exported);
    this.byExported.set(exported, o);
    this.byOriginal.set(key(o), exported);
  }

  /** The exported name of a server's tool or prompt, or undefined when it is not in this namespace. */
  exported(server: string, name: string): string | undefined {
    return this.byOriginal.get(key({ server, name })) || undefined;
  }

  /** The server and original name behind an exported name. */
  resolve(exported: string): Original | undefined {
    return this.byExported.get(exported);
  }

  /** Number of names in the namespace. */
  get size(): number {
    return this.byExported.size;
  }
}

function key(o: Original): string {
  return `${o.server}\0${o.name}`;
}
