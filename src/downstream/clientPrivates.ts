// The SDK 2.4.0 Client members a downstream call lane (callLane.ts) needs and the SDK offers no public way
// to reach: its request-id counter, its progress-handler table, and its request funnel entered for an answer
// that has already come. Kept here, and only here, so an SDK upgrade that moves them fails one unit test
// (test/unit/downstream.clientPrivates.test.ts), not the field. clientState.ts holds the handover's own set.
import type { Client, Transport } from "@modelcontextprotocol/client";

type ProgressHandler = (progress: { progress: number; total?: number; message?: string }) => void;

/** The private side of the SDK's Protocol (Client's base class) as of 2.4.0. */
interface ProtocolPrivates {
  _requestMessageId: number;
  _progressHandlers: Map<number, ProgressHandler>;
  _transport?: Transport;
}

const privates = (client: Client) => client as unknown as ProtocolPrivates;

/** True when `client` still has the members this module reaches for (checked once per connection). */
export function hasPrivates(client: Client): boolean {
  const c = privates(client);
  return typeof c._requestMessageId === "number" && c._progressHandlers instanceof Map && "_transport" in c;
}

/**
 * Takes the next id of the client's own counter: a request written past the client with it can never share
 * an id with one the client writes, and a handover's captured counter (clientState.ts) covers it too.
 */
export function takeRequestId(client: Client): number {
  return privates(client)._requestMessageId++;
}

/**
 * Registers (or with undefined, drops) the handler of progress notifications whose token is `id`: the client
 * checks and dispatches them as for its own requests, and hands them to `handler`.
 */
export function setProgressHandler(client: Client, id: number, handler: ProgressHandler | undefined): void {
  const table = privates(client)._progressHandlers;
  if (handler) table.set(id, handler);
  else table.delete(id);
}

/** A transport that writes nothing: what the client's funnel sends while it only registers a request. */
const SILENT: Transport = { start: () => Promise.resolve(), send: () => Promise.resolve(), close: () => Promise.resolve() };

/**
 * Makes the client expect the answer to a request that was written past it with id `id`: `request` (a call
 * of client.request) runs the client's own funnel under that id with the write suppressed, so the answer,
 * delivered to the client next, is settled exactly as the answer to its own request (its checks, errors and
 * result validation). The counter and the transport are restored before this returns.
 */
export function expectAnswer<T>(client: Client, id: number, request: () => Promise<T>): Promise<T> {
  const c = privates(client);
  const next = c._requestMessageId;
  const transport = c._transport;
  c._requestMessageId = id;
  c._transport = SILENT;
  try {
    return request();
  } finally {
    c._requestMessageId = next;
    c._transport = transport;
  }
}
