import { CLIENT_CAPABILITIES_META_KEY, ProtocolErrorCode, SERVER_INFO_META_KEY, type Client, type Result } from "@modelcontextprotocol/client";
import type { CallOrigin } from "../tools/types.js";
import { rpcError } from "./rpcError.js";
import { isInputRequired, type RoundTripCall, type RoundTrips } from "./roundTrip.js";

/** One request of a client, forwarded to the server that serves it (tools/call, prompts/get, resources/read). */
export interface ForwardSpec {
  call: RoundTripCall;
  client: Client;
  /**
   * Sends the request to the server with `extra` merged into its params (a modern server's retry fields and
   * `_meta`), progress going to `origin`, cancelled by `signal`; an `input_required` comes back as a result.
   */
  send(client: Client, extra: Record<string, unknown>, origin: CallOrigin | undefined, signal: AbortSignal): Promise<Result>;
  /** Runs the request as a flight of `origin`, so the server's own requests during it find their client. */
  flight(origin: CallOrigin | undefined, fn: () => Promise<Result>): Promise<Result>;
}

/**
 * Forwards a request across eras. A modern server hears the calling client's own capabilities with the
 * request and answers `input_required` itself (its state sealed by the gateway); a legacy server's requests
 * during the call reach a modern client as `input_required` (the call parked), a legacy client as real
 * requests. No server's own identity (`_meta` serverInfo) reaches a client: the gateway answers as itself.
 */
export async function forward(rounds: RoundTrips, spec: ForwardSpec): Promise<Result> {
  const { call, client } = spec;
  const origin = call.origin;
  const claims = rounds.resume(call);
  const modernServer = client.getProtocolEra() === "modern";
  if (claims?.body.k === "park") return rounds.unpark(call, claims.body.id);
  if (claims?.body.k === "pass" && !modernServer) {
    // The server restarted as a legacy one since: the state is for a server that is no longer there.
    throw rpcError(ProtocolErrorCode.InvalidParams, "the server this requestState belongs to has changed since: call the tool again", { reason: "gone" });
  }
  try {
    if (modernServer) {
      const retry = origin?.retry;
      const own = claims?.body.k === "pass" ? claims.body.ds : undefined;
      const extra: Record<string, unknown> = {
        // Per request, the capabilities of the client that asked (2026-07-28, basic/index, _meta): the server
        // asks only for what that client can give.
        ...(origin ? { _meta: { [CLIENT_CAPABILITIES_META_KEY]: origin.clientCapabilities() ?? {} } } : {}),
        ...(retry?.inputResponses && claims ? { inputResponses: retry.inputResponses } : {}),
        ...(own !== undefined ? { requestState: own } : {}),
      };
      const result = await spec.flight(origin, () => spec.send(client, extra, origin, call.signal));
      if (!origin && isInputRequired(result)) {
        // A call from no client (the `test` command): no one can answer, so the call cannot go on.
        const asked = Object.values(result.inputRequests ?? {}).map((r) => r.method);
        throw new Error(`the server asks for input (${[...new Set(asked)].join(", ") || "a retry"}) and no client is here to give it`);
      }
      return rounds.relay(call, withoutServerIdentity(result));
    }
    if (origin?.era === "modern") {
      return await rounds.park(call, (asking, signal) => spec.flight(asking, () => spec.send(client, {}, asking, signal)));
    }
    return await spec.flight(origin, () => spec.send(client, {}, origin, call.signal));
  } catch (err) {
    // A legacy server's URL elicitation (-32042): a modern client that can open URLs is asked in-band.
    const asked = origin?.era === "modern" && origin.clientCapabilities()?.elicitation?.url ? rounds.urlElicitation(call, err) : undefined;
    if (asked) return asked;
    throw err;
  }
}

/** A result without the server's own identity in `_meta` (the gateway's Server stamps its own). */
export function withoutServerIdentity<R extends Result>(result: R): R {
  const meta = result._meta as Record<string, unknown> | undefined;
  if (!meta || !(SERVER_INFO_META_KEY in meta)) return result;
  const { [SERVER_INFO_META_KEY]: _theirs, ...rest } = meta;
  const { _meta: _old, ...body } = result;
  return (Object.keys(rest).length ? { ...body, _meta: rest } : body) as R;
}
