import type { Readable, Writable } from "node:stream";
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/server";
import { JSONRPCMessageSchema } from "@modelcontextprotocol/core";
import { commonFrame } from "./frame.js";
import { LineSplitter, MAX_LINE_BYTES } from "./lines.js";

/** JSON-RPC error codes this transport answers with before a message reaches the server. */
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const INTERNAL_ERROR = -32603;

/** Queued output beyond this means the peer stopped reading: the session is dropped. */
export const MAX_QUEUE_BYTES = 64 * 1024 * 1024;

export interface LineTransportOptions {
  input: Readable;
  output: Writable;
  /** Ends `output` on close (a socket); leave false for process stdout. */
  endOutput?: boolean;
  maxLineBytes?: number;
  maxQueueBytes?: number;
  /** Told why a session was dropped or a frame refused; never stdout. */
  onWarning?: (message: string) => void;
  /** Called once when the transport closes, whoever owns `onclose` (the SDK's serving entry takes it over). */
  onClosed?: () => void;
  /**
   * Hands over the messages of one read one per event-loop turn. The SDK runs notification handlers a few
   * microtasks after it receives them but settles a response (and drops its progress handler) at once: a
   * server's progress that arrives in the same read as its result would reach the handler too late.
   */
  settleBetweenMessages?: boolean;
  /** Bytes a previous reader of `input` read but did not use (a handed-over pipe): read before the stream's. */
  initial?: Buffer;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Sees each message before `onmessage` does, and the close: a downstream call lane (src/downstream/callLane.ts). */
export interface LineTap {
  /** True when the message was taken (the owner of `onmessage` never sees it). */
  take(message: JSONRPCMessage): boolean;
  /** The transport closed (after `onclose`). */
  closed(): void;
}

/**
 * Newline-delimited JSON-RPC over a pair of streams: the transport of every channel a gateway serves
 * (an endpoint session, stdio in --standalone). Bad frames are answered per JSON-RPC, never thrown.
 */
export class LineTransport implements Transport {
  onmessage?: Transport["onmessage"];
  onclose?: Transport["onclose"];
  onerror?: Transport["onerror"];
  sessionId?: string;
  /** Set by whoever takes some messages off before the SDK sees them (one tap per transport). */
  tap?: LineTap;

  private closed = false;
  private readonly inbox: JSONRPCMessage[] = [];
  private draining = false;
  /** While a read is split: no message of it has been handed over yet (settleBetweenMessages). */
  private firstOfRead = false;
  private readonly splitter: LineSplitter;
  private readonly onData = (chunk: Buffer) => this.read(chunk);
  private readonly onEnd = () => void this.close();
  private readonly onStreamError = (err: Error) => {
    this.onerror?.(err);
    void this.close();
  };

  constructor(private readonly opts: LineTransportOptions) {
    this.splitter = new LineSplitter(
      (line) => this.receive(line),
      () => this.reject(null, PARSE_ERROR, `Parse error: frame exceeds ${opts.maxLineBytes ?? MAX_LINE_BYTES} bytes`),
      opts.maxLineBytes ?? MAX_LINE_BYTES,
    );
  }

  async start(): Promise<void> {
    const { input, output } = this.opts;
    if (this.opts.initial?.length) this.read(this.opts.initial);
    input.on("data", this.onData);
    input.once("end", this.onEnd);
    input.once("close", this.onEnd);
    input.on("error", this.onStreamError);
    output.on("error", this.onStreamError);
    // A socket handed over after the hello is left paused; a 'data' listener alone does not resume it.
    input.resume();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    let line = JSON.stringify(message);
    // The peer drops a frame over the limit, leaving its request unanswered: answer it with an error instead.
    // (A string's length never exceeds its UTF-8 byte length, so the cheap test rules out most frames.)
    if (line.length > MAX_LINE_BYTES / 3 && Buffer.byteLength(line) > MAX_LINE_BYTES) {
      this.opts.onWarning?.(`dropped an outgoing frame of ${Buffer.byteLength(line)} bytes (limit ${MAX_LINE_BYTES})`);
      if (!("id" in message) || message.id === undefined) return;
      line = JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: INTERNAL_ERROR, message: `the response exceeds the ${MAX_LINE_BYTES}-byte frame limit` } });
    }
    this.writeLine(line);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { input, output } = this.opts;
    input.off("data", this.onData);
    input.off("end", this.onEnd);
    input.off("close", this.onEnd);
    if (this.opts.endOutput) output.end();
    this.onclose?.();
    this.tap?.closed();
    this.opts.onClosed?.();
  }

  /**
   * Stops using the streams without ending them (they are handed to another process, which reads on where
   * this left off): returns the bytes of a partial line read so far. No close event follows.
   */
  release(): Buffer {
    const { input, output } = this.opts;
    input.pause();
    // Read from the pipe but not yet handed to us: whole lines are ours to deliver, the rest goes along.
    for (let chunk: unknown; (chunk = input.read()) !== null; ) this.read(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    this.closed = true;
    input.off("data", this.onData);
    input.off("end", this.onEnd);
    input.off("close", this.onEnd);
    input.off("error", this.onStreamError);
    output.off("error", this.onStreamError);
    this.inbox.length = 0;
    return this.splitter.take();
  }

  /** True once closed by either side. */
  get isClosed(): boolean {
    return this.closed;
  }

  private writeLine(line: string): void {
    if (this.closed) return;
    const { output } = this.opts;
    output.write(line + "\n");
    if (output.writableLength > (this.opts.maxQueueBytes ?? MAX_QUEUE_BYTES)) {
      this.opts.onWarning?.(`peer stopped reading (${output.writableLength} bytes queued): session dropped`);
      void this.close();
      if (this.opts.endOutput) output.destroy();
    }
  }

  private reject(id: string | number | null, code: number, message: string): void {
    this.opts.onWarning?.(message);
    this.writeLine(JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } }));
  }

  private receive(line: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(utf8.decode(line));
    } catch (err) {
      const why = err instanceof SyntaxError ? err.message : "invalid UTF-8";
      return this.reject(null, PARSE_ERROR, `Parse error: ${why}`);
    }
    if (Array.isArray(value)) return this.reject(null, INVALID_REQUEST, "Invalid Request: JSON-RPC batches are not supported by MCP");
    // The usual frames skip the schema (it passes them unchanged); the rest go through it.
    const common = commonFrame(value);
    if (common) return this.deliver(common);
    const parsed = JSONRPCMessageSchema.safeParse(value);
    if (!parsed.success) {
      // JSON-RPC 2.0 §5: answer with the request's id when one can be read, else with null.
      return this.reject(requestId(value), INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message");
    }
    this.deliver(parsed.data);
  }

  /** One read's bytes (or bytes read before): its lines delivered. */
  private read(chunk: Buffer): void {
    this.firstOfRead = true;
    this.splitter.push(chunk);
    this.firstOfRead = false;
  }

  /**
   * settleBetweenMessages: a read's first message is handed over at once (the microtasks of what came before
   * it ran when the read that brought that ended: Node runs them after every I/O callback); the others of
   * the same read wait in the inbox and go one per turn. So a read of one message, the usual answer, costs
   * no setImmediate.
   */
  private deliver(message: JSONRPCMessage): void {
    if (!this.opts.settleBetweenMessages) return this.hand(message);
    const first = this.firstOfRead;
    this.firstOfRead = false;
    if (first && !this.draining) return this.hand(message);
    this.inbox.push(message);
    if (this.draining) return;
    this.draining = true;
    setImmediate(this.drain);
  }

  /** Delivers one queued message, then waits a turn for the next (their microtasks run in between). */
  private readonly drain = (): void => {
    const message = this.inbox.shift();
    if (message === undefined || this.closed) {
      this.draining = false;
      return;
    }
    this.hand(message);
    if (this.inbox.length) setImmediate(this.drain);
    else this.draining = false;
  };

  private hand(message: JSONRPCMessage): void {
    if (this.tap?.take(message)) return;
    this.onmessage?.(message);
  }
}

function requestId(value: unknown): string | number | null {
  if (typeof value !== "object" || value === null || !("id" in value)) return null;
  const id = (value as { id: unknown }).id;
  return typeof id === "string" || typeof id === "number" ? id : null;
}
