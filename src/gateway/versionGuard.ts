import { PROTOCOL_VERSION_META_KEY, UnsupportedProtocolVersionError, type JSONRPCMessage, type MessageExtraInfo } from "@modelcontextprotocol/server";
import { WrappingTransport } from "./wrappingTransport.js";

/** The modern revisions the SDK's serving entry speaks (it exports no list of them; 2.4.0 speaks one). */
export const MODERN_VERSIONS = ["2026-07-28"];

/** The protocol version a request claims in its `_meta` envelope, if it claims one. */
function claimedVersion(message: JSONRPCMessage): string | undefined {
  if (!("method" in message) || !("id" in message)) return undefined;
  const meta = (message.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  const version = meta?.[PROTOCOL_VERSION_META_KEY];
  return typeof version === "string" ? version : undefined;
}

/**
 * Answers every request whose `_meta` names a protocol version the gateway does not serve with -32022 and
 * `data.supported` (spec 2026-07-28, basic/versioning), before it reaches the session. The SDK's entry does
 * this for a connection's opening message only; once the era is pinned it passes requests straight to the
 * instance, which would serve a request that names an unknown version.
 */
export class VersionGuard extends WrappingTransport {
  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    const version = claimedVersion(message);
    if (version !== undefined && !MODERN_VERSIONS.includes(version) && "id" in message) {
      const error = new UnsupportedProtocolVersionError({ supported: [...MODERN_VERSIONS], requested: version });
      void this.inner.send({ jsonrpc: "2.0", id: message.id, error: { code: error.code, message: error.message, data: error.data } });
      return;
    }
    super.receive(message, extra);
  }
}
