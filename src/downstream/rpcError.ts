import { ProtocolError } from "@modelcontextprotocol/client";

/** A JSON-RPC error as a request handler throws it: the SDK answers with its code, message and data. */
export interface RpcError extends Error {
  code: number;
  data?: unknown;
}

/**
 * An error for a client, with a plain message, thrown from a request handler: the SDK answers with its code,
 * message and data as they are.
 */
export function rpcError(code: number, message: string, data?: unknown): RpcError {
  return Object.assign(new Error(message), { code, ...(data !== undefined ? { data } : {}) });
}

/** True for an error a handler throws to answer with a JSON-RPC error (an RpcError or the SDK's ProtocolError). */
export function isRpcError(err: unknown): err is RpcError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === "number";
}

/** Passes a downstream server's JSON-RPC error on to the client as the server sent it; rethrows anything else. */
export function relayError(err: unknown): never {
  if (err instanceof ProtocolError) throw rpcError(err.code, err.message, err.data);
  throw err;
}
