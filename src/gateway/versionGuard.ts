import {
  PROTOCOL_VERSION_META_KEY,
  UnsupportedProtocolVersionError,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type Transport,
  type TransportSendOptions,
} from "@modelcontextprotocol/server";

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
export class VersionGuard implements Transport {
  onmessage?: Transport["onmessage"];
  onclose?: Transport["onclose"];
  onerror?: Transport["onerror"];

  constructor(private readonly inner: Transport) {}

  start(): Promise<void> {
    this.inner.onmessage = (message: JSONRPCMessage, extra?: MessageExtraInfo) => {
      const version = claimedVersion(message);
      if (version !== undefined && !MODERN_VERSIONS.includes(version) && "id" in message) {
        const error = new UnsupportedProtocolVersionError({ supported: [...MODERN_VERSIONS], requested: version });
        void this.inner.send({ jsonrpc: "2.0", id: message.id, error: { code: error.code, message: error.message, data: error.data } });
        return;
      }
      this.onmessage?.(message, extra);
    };
    this.inner.onclose = () => this.onclose?.();
    this.inner.onerror = (err) => this.onerror?.(err);
    return this.inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  setProtocolVersion = (version: string): void => this.inner.setProtocolVersion?.(version);
}
