import { hashedName } from "../downstream/namespace.js";
import { GatewayError } from "../errors.js";

/** Claude Desktop's limit, which every exported name already meets. */
export const DEFAULT_NAME_LIMIT = 64;
/** Below this a shortened name would be mostly hash: nothing a model could read. */
export const MIN_NAME_LIMIT = 16;

/**
 * Cursor drops a tool whose server key and tool name together pass 60 characters; counting the separator
 * too keeps a margin. So its installed entry carries `--max-name-length` of 60 − key − 1.
 * (Reported in sparfenyuk/mcp-proxy#45 and executeautomation/mcp-playwright#145.)
 */
export const CURSOR_COMBINED_LIMIT = 60;

/** The name limit Cursor needs for an entry named `key`. */
export function cursorNameLimit(key: string): number {
  return Math.max(MIN_NAME_LIMIT, Math.min(DEFAULT_NAME_LIMIT, CURSOR_COMBINED_LIMIT - key.length - 1));
}

/** Reads `--max-name-length`: a whole number from MIN_NAME_LIMIT to DEFAULT_NAME_LIMIT. */
export function parseNameLimit(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < MIN_NAME_LIMIT || n > DEFAULT_NAME_LIMIT) {
    throw new GatewayError("USAGE", `--max-name-length must be a whole number from ${MIN_NAME_LIMIT} to ${DEFAULT_NAME_LIMIT}`);
  }
  return n;
}

/**
 * The names a client with a shorter limit sees: each name that fits is kept; each longer one is cut and
 * given a hash of its full name, so it is the same on every restart and never equal to another visible
 * name. Returns real name → visible name; the real name is what goes to the registry (and downstream).
 */
export function fitNames(names: readonly string[], max: number): Map<string, string> {
  const visible = new Map<string, string>();
  const taken = new Set<string>();
  const long: string[] = [];
  for (const n of names) {
    if (n.length <= max) {
      visible.set(n, n);
      taken.add(n);
    } else long.push(n);
  }
  // Sorted, so the outcome depends on the set of names, not on the order servers happened to start in.
  for (const n of [...new Set(long)].sort()) {
    const short = hashedName(n, n, max, taken);
    taken.add(short);
    visible.set(n, short);
  }
  return visible;
}
