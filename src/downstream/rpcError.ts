import { McpError } from "@modelcontextprotocol/sdk/types.js";

/** A JSON-RPC error as a request handler throws it: the SDK answers with its code, message and data. */
export interface RpcError extends Error {
  code: number;
  data?: unknown;
}

/**
 * An error for a client, with a plain message. McpError would do, but its message carries a
 * "MCP error <code>: " prefix that the client's SDK adds once more, so clients would read it twice.
 */
export function rpcError(code: number, message: string, data?: unknown): RpcError {
  return Object.assign(new Error(message), { code, ...(data !== undefined ? { data } : {}) });
}

/** Passes a downstream server's JSON-RPC error on to the client as the server sent it; rethrows anything else. */
export function relayError(err: unknown): never {
  if (err instanceof McpError) throw rpcError(err.code, err.message.replace(/^MCP error -?\d+: /, ""), err.data);
  throw err;
}
