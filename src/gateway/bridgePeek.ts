// What the bridge reads of the lines it carries: a request's method and id, a response's id, and the params
// of the few methods whose params it keeps. Lines are read as bytes, by scans that agree with JSON.parse, and
// parsed in full only where a scan cannot say or the params are needed: the bridge stays a pipe that
// notes ids, and per call its own work is small against the streams' (bench/bridgeInstr.ts).
import { bytesAt, idToken, scanMembers } from "../transport/jsonScan.js";

export type Id = string | number;

/** The parts of a JSON-RPC message the bridge acts on. */
export interface Peek {
  id?: Id;
  method?: string;
  params?: { requestId?: unknown; _meta?: Record<string, unknown>; uri?: unknown; level?: unknown };
}

export const isId = (id: unknown): id is Id => typeof id === "string" || typeof id === "number";

/** The message in full (JSON.parse), or undefined if the line is not JSON or not an object. */
export function peek(line: Buffer): Peek | undefined {
  try {
    const v = JSON.parse(line.toString("utf8")) as Peek | null;
    return v && typeof v === "object" ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A client's line as the bridge needs it: method and id read by a scan, and the whole message parsed only
 * when `needsParams(method)` says its params matter (or the scan leaves the line to JSON.parse). What the
 * scan returns is what peek() would for method and id (test/unit/jsonScan.test.ts).
 */
export function peekRequest(line: Buffer, needsParams: (method: string) => boolean): Peek | undefined {
  const scanned = scanMembers(line);
  if (!scanned || (scanned.method !== undefined && needsParams(scanned.method))) return peek(line);
  return scanned;
}

const ID_FIRST = Buffer.from('{"jsonrpc":"2.0","id":');
const ID_LAST = Buffer.from(',"jsonrpc":"2.0","id":');
const AFTER_ERROR = Buffer.from(',"error":');
const AFTER_RESULT = Buffer.from(',"result":');
const RESULT_FIRST = Buffer.from('{"result":');
const ERROR_FIRST = Buffer.from('{"error":');

/**
 * Whether a line from the primary is a response, and its id, found by a scan of the bytes of the two shapes
 * the primary's JSON.stringify writes (`{"jsonrpc":"2.0","id":…,"error":…}` and `{"result":…,"jsonrpc":"2.0","id":…}`),
 * so a large result is neither decoded nor parsed here; anything else is parsed in full. The primary is
 * trusted to write JSON: only the id token is checked, not the rest of the line.
 */
export function peekAnswer(line: Buffer): Peek | undefined {
  if (bytesAt(line, 0, ID_FIRST)) {
    const tok = idToken(line, ID_FIRST.length);
    if (tok && (bytesAt(line, tok.end, AFTER_ERROR) || bytesAt(line, tok.end, AFTER_RESULT))) return { id: tok.id };
  } else if (bytesAt(line, 0, RESULT_FIRST) || bytesAt(line, 0, ERROR_FIRST)) {
    // The id is the last member: the token after the last marker must run to the closing brace, which it
    // cannot if the marker sat inside the result (a nested object would close after it).
    const at = line.lastIndexOf(ID_LAST);
    const tok = at < 0 ? undefined : idToken(line, at + ID_LAST.length);
    if (tok && tok.end === line.length - 1 && line[line.length - 1] === 0x7d) return { id: tok.id };
  }
  return peek(line);
}
