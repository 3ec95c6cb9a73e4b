// What an MCP client knows of a connected server, carried from one primary to the next on a handover, so
// the next one speaks to the same running server without a new handshake (a second `initialize` is not
// something every server accepts, and a modern one needs none).
import type { Client, DiscoverResult, Implementation, ServerCapabilities, Transport } from "@modelcontextprotocol/client";

/** The negotiated state of a connected client: plain JSON. */
export interface ClientState {
  protocolVersion: string;
  capabilities: ServerCapabilities | undefined;
  serverInfo: Implementation | undefined;
  instructions: string | undefined;
  /** A modern server's discover result: adopted as a prior verdict (the SDK's own zero-round-trip connect). */
  discover: DiscoverResult | undefined;
  /**
   * The next JSON-RPC id the old client would have used: the new one goes on from there, so an answer the
   * server still owes the old primary can never be taken for the answer to a new request.
   */
  nextId: number;
}

/**
 * The SDK 2.4.0 members behind the legacy state (no public setter exists: the SDK's own reconnect path keeps
 * them across a transport with a session id, which is what `restoreClient` relies on). A unit test connects
 * a restored client to a real server, so an SDK upgrade that renames them fails there, not in the field.
 */
interface ClientInternals {
  _negotiatedProtocolVersion?: string;
  _serverCapabilities?: ServerCapabilities;
  _serverVersion?: Implementation;
  _instructions?: string;
  _requestMessageId: number;
  _cache?: { setServerIdentity(identity: string): void };
  _deriveServerIdentity?(transport: Transport): string;
}

const internals = (client: Client) => client as unknown as ClientInternals;

/** Reads the state of a connected client. */
export function captureClient(client: Client): ClientState | undefined {
  const c = internals(client);
  const protocolVersion = c._negotiatedProtocolVersion;
  if (!protocolVersion) return undefined;
  return {
    protocolVersion,
    capabilities: client.getServerCapabilities(),
    serverInfo: client.getServerVersion(),
    instructions: client.getInstructions(),
    discover: client.getProtocolEra() === "modern" ? client.getDiscoverResult() : undefined,
    // Margin for requests written while the state was read.
    nextId: c._requestMessageId + 1000,
  };
}

/** Connects a fresh client over a transport to a server that another client had already connected to. */
export async function restoreClient(client: Client, transport: Transport & { sessionId?: string }, state: ClientState): Promise<void> {
  const c = internals(client);
  if (state.discover) {
    await client.connect(transport, { prior: { kind: "modern", discover: state.discover } });
  } else {
    // The SDK's legacy connect skips `initialize` on a transport that has a session (its reconnect path) and
    // keeps the negotiated version it holds.
    c._negotiatedProtocolVersion = state.protocolVersion;
    transport.sessionId = "handed-over";
    try {
      await client.connect(transport, { prior: { kind: "legacy" } });
    } finally {
      delete transport.sessionId;
    }
    c._serverCapabilities = state.capabilities;
    c._serverVersion = state.serverInfo;
    c._instructions = state.instructions;
    if (c._deriveServerIdentity) c._cache?.setServerIdentity(c._deriveServerIdentity(transport));
  }
  c._requestMessageId = Math.max(c._requestMessageId, state.nextId);
}
