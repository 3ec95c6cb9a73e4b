import type { JSONRPCMessage, MessageExtraInfo, Transport, TransportSendOptions } from "@modelcontextprotocol/server";

/**
 * A transport that stands in front of another one and passes everything through, for a subclass to
 * intercept what arrives (`receive`) or what a close does (`closed`). Sending, closing and the protocol
 * version go to the wrapped transport unchanged, so that delegation exists once.
 */
export abstract class WrappingTransport implements Transport {
  onmessage?: Transport["onmessage"];
  onclose?: Transport["onclose"];
  onerror?: Transport["onerror"];

  constructor(protected readonly inner: Transport) {}

  start(): Promise<void> {
    this.inner.onmessage = (message: JSONRPCMessage, extra?: MessageExtraInfo) => this.receive(message, extra);
    this.inner.onclose = () => this.closed();
    this.inner.onerror = (err) => this.onerror?.(err);
    return this.inner.start();
  }

  /** A message from the wrapped transport; passed on as it is unless a subclass takes it. */
  protected receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    this.onmessage?.(message, extra);
  }

  /** The wrapped transport closed; passed on as it is unless a subclass has something to end first. */
  protected closed(): void {
    this.onclose?.();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  // A property, as the SDK's own wrapping stdio transport has it.
  setProtocolVersion = (version: string): void => this.inner.setProtocolVersion?.(version);
}
