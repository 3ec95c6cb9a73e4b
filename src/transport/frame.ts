import type { JSONRPCMessage } from "@modelcontextprotocol/server";

/**
 * The common JSON-RPC frames, accepted without the SDK's zod schema (`JSONRPCMessageSchema`): that check cost
 * a fifth of the primary's JavaScript per forwarded call (once per frame, each way). Only shapes the schema
 * passes unchanged are accepted here, so what the session sees is what zod would have made of them (equal
 * as JSON); anything else (a stripped key, a caught value, an invalid frame) returns undefined and the
 * caller runs the schema, which decides. test/unit/frame.test.ts checks this against the schema itself.
 */
export function commonFrame(value: unknown): JSONRPCMessage | undefined {
  if (!isPlainObject(value) || value.jsonrpc !== "2.0") return undefined;
  let n = 1;
  const hasId = "id" in value;
  if (hasId) {
    if (!isRequestId(value.id)) return undefined;
    n++;
  }
  if ("method" in value) {
    if (typeof value.method !== "string") return undefined;
    n++;
    if ("params" in value) {
      if (!requestParams(value.params)) return undefined;
      n++;
    }
  } else if ("result" in value) {
    if (!hasId || !result(value.result)) return undefined;
    n++;
  } else if ("error" in value) {
    if (!errorObject(value.error)) return undefined;
    n++;
  } else return undefined;
  // The schemas are strict at the top: any other member makes the frame invalid (the schema says so).
  return ownKeys(value) === n ? (value as unknown as JSONRPCMessage) : undefined;
}

type Obj = Record<string, unknown>;

function isPlainObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** zod's `.int()` is a safe integer. */
const isRequestId = (id: unknown) => typeof id === "string" || (typeof id === "number" && Number.isSafeInteger(id));

function ownKeys(o: Obj): number {
  let n = 0;
  for (const k in o) {
    // A key zod's copy would turn into a prototype, not a member: left to the schema.
    if (k === "__proto__") return -1;
    n++;
  }
  return n;
}

const RELATED_TASK = "io.modelcontextprotocol/related-task";
const SERVER_INFO = "io.modelcontextprotocol/serverInfo";

/** Request or notification params: a loose object whose `_meta`, if any, is a loose object with a valid progress token. */
function requestParams(p: unknown): boolean {
  if (!isPlainObject(p) || ownKeys(p) < 0) return false;
  if (!("_meta" in p)) return true;
  const meta = p._meta;
  // The related-task entry is a strict object (stripped by the schema): left to it.
  if (!isPlainObject(meta) || ownKeys(meta) < 0 || RELATED_TASK in meta) return false;
  return !("progressToken" in meta) || isRequestId(meta.progressToken);
}

/** A result: a loose object; its `_meta` a loose object without serverInfo (which the schema may rewrite). */
function result(r: unknown): boolean {
  if (!isPlainObject(r) || ownKeys(r) < 0) return false;
  if (!("_meta" in r)) return true;
  const meta = r._meta;
  return isPlainObject(meta) && ownKeys(meta) >= 0 && !(SERVER_INFO in meta);
}

/** An error object with exactly the schema's members (any other would be stripped). */
function errorObject(e: unknown): boolean {
  if (!isPlainObject(e) || typeof e.code !== "number" || !Number.isSafeInteger(e.code) || typeof e.message !== "string") return false;
  return ownKeys(e) === ("data" in e ? 3 : 2);
}
