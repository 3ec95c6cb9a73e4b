import type { Duplex, Readable, Writable } from "node:stream";
import { LineSplitter, MAX_LINE_BYTES } from "../transport/lines.js";

/** The id the bridge gives a replayed `initialize`, so its answer can be told apart and swallowed. */
export const REPLAY_ID = "claude-mpm-gateway:replay";

/** JSON-RPC code of the error a bridge answers with when the primary is lost or cannot be reached. */
export const PRIMARY_LOST = -32603;

const NL = Buffer.from("\n");
type Id = string | number;

export interface BridgeOptions {
  /** The client's side: its requests arrive on input, answers go to output. */
  input: Readable;
  output: Writable;
  /** Reaches (starting if need be) the primary and returns an authenticated stream; rejects if it cannot. */
  connect: () => Promise<Duplex>;
  /** Told of reconnects and failures; never stdout. */
  onLog?: (message: string) => void;
  /** Client bytes held while no primary is connected; beyond this, requests are refused. */
  maxQueueBytes?: number;
}

interface Peek {
  id?: Id;
  method?: string;
  params?: { requestId?: unknown };
}

function peek(line: Buffer): Peek | undefined {
  try {
    const v = JSON.parse(line.toString("utf8")) as Peek | null;
    return v && typeof v === "object" ? v : undefined;
  } catch {
    return undefined;
  }
}

const isId = (id: unknown): id is Id => typeof id === "string" || typeof id === "number";

/**
 * The thin pipe between a client's stdio and the primary. Per message it splits lines and notes request
 * ids: enough to answer what a lost primary never answered, and to replay the client's handshake to the
 * next primary so the client's session goes on. It connects at start and again on the first message
 * after a loss, so a stopped gateway starts again only when a client uses it.
 */
export class Bridge {
  private upstream?: Duplex;
  private connecting?: Promise<void>;
  /** Upstream is connected and, if the client had initialized, the handshake has been replayed. */
  private ready = false;
  private queue: Array<{ line: Buffer; info?: Peek }> = [];
  private queuedBytes = 0;
  private readonly pending = new Set<Id>();
  private initLine?: Buffer;
  private initializedLine?: Buffer;
  /** The client's initialize reached some primary: a new one must be given it again. */
  private initialized = false;
  /** The client closed its input: it sends no more, but still reads the answers to what it sent. */
  private ended = false;
  private finished?: () => void;
  // The bridge's own frame limit is the primary's: a longer line is answered here, as the primary would.
  private readonly clientLines = new LineSplitter(
    (line) => this.fromClient(line),
    () => this.toClient(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: `Parse error: frame exceeds ${MAX_LINE_BYTES} bytes` } }))),
  );

  constructor(private readonly opts: BridgeOptions) {}

  /** Pipes until the client closes its input and what it sent is answered; then closes the upstream and resolves. */
  run(): Promise<void> {
    const { input, output } = this.opts;
    output.on("drain", () => this.upstream?.resume());
    return new Promise((resolve) => {
      this.finished = resolve;
      input.on("data", (chunk: Buffer) => this.clientLines.push(chunk));
      input.once("end", () => {
        // `printf '<requests>' | claude-mpm-gateway` closes stdin at once: answer first, as --standalone does.
        this.ended = true;
        this.finishIfAnswered();
      });
      this.ensureConnected();
    });
  }

  /** After the client's EOF, ends the run once nothing it sent is queued or unanswered. */
  private finishIfAnswered(): void {
    if (!this.ended || this.pending.size || this.queue.length) return;
    const up = this.upstream;
    // Its close is the end asked for here, not a lost primary.
    this.upstream = undefined;
    up?.end();
    this.finished?.();
  }

  private fromClient(line: Buffer): void {
    const info = peek(line);
    if (info?.method === "initialize" && isId(info.id)) this.initLine = line;
    else if (info?.method === "notifications/initialized") this.initializedLine = line;
    if (this.ready) return this.forward(line, info);
    if (this.queuedBytes + line.length > (this.opts.maxQueueBytes ?? 16 * 1024 * 1024)) {
      if (isId(info?.id) && info.method) this.answerLost(info.id, "the gateway is reconnecting and its queue is full");
      return;
    }
    this.queue.push({ line, info });
    this.queuedBytes += line.length;
    this.ensureConnected();
  }

  private forward(line: Buffer, info?: Peek): void {
    const up = this.upstream!;
    if (info?.method && isId(info.id)) this.pending.add(info.id);
    if (info?.method === "initialize") this.initialized = true;
    // MCP: a cancelled request gets no response, and the client has forgotten its id; an error for it
    // after a lost primary would be a response to an unknown id.
    if (info?.method === "notifications/cancelled" && isId(info.params?.requestId)) this.pending.delete(info.params.requestId);
    up.write(line);
    // Already paused: the drain listener is set, and one per line of a chunk would leak listeners.
    if (!up.write(NL) && !this.opts.input.isPaused()) {
      this.opts.input.pause();
      up.once("drain", () => this.opts.input.resume());
    }
  }

  private fromPrimary(line: Buffer): void {
    const info = peek(line);
    if (info && isId(info.id) && info.method === undefined) {
      if (info.id === REPLAY_ID) return this.replayDone();
      this.pending.delete(info.id);
    }
    this.toClient(line);
    this.finishIfAnswered();
  }

  private toClient(line: Buffer): void {
    this.opts.output.write(line);
    if (!this.opts.output.write(NL)) this.upstream?.pause();
  }

  private ensureConnected(): void {
    if (this.upstream || this.connecting || (this.ended && !this.queue.length)) return;
    this.connecting = this.opts
      .connect()
      .then((up) => this.attach(up))
      .catch((err: Error) => {
        this.opts.onLog?.(`cannot reach the gateway primary: ${err.message}`);
        this.failQueued(err.message);
      })
      .finally(() => (this.connecting = undefined));
  }

  private attach(up: Duplex): void {
    if (this.ended && !this.queue.length) {
      up.end();
      return;
    }
    this.upstream = up;
    const lines = new LineSplitter((line) => this.fromPrimary(line));
    up.on("data", (chunk: Buffer) => lines.push(chunk));
    up.on("error", (err) => this.opts.onLog?.(`primary connection: ${err.message}`));
    up.once("close", () => this.lost(up));
    up.resume();
    if (this.initialized && this.initLine) {
      // The new primary has never seen this client: give it the client's handshake again.
      const init = JSON.parse(this.initLine.toString("utf8")) as Record<string, unknown>;
      up.write(JSON.stringify({ ...init, id: REPLAY_ID }) + "\n");
      this.opts.onLog?.("reconnected to the gateway primary; replaying the client's initialize");
    } else {
      this.ready = true;
      this.flush();
    }
  }

  private replayDone(): void {
    if (this.initializedLine) this.upstream?.write(Buffer.concat([this.initializedLine, NL]));
    this.ready = true;
    this.flush();
  }

  private flush(): void {
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const { line, info } of queued) this.forward(line, info);
  }

  private lost(up: Duplex): void {
    if (this.upstream !== up) return;
    this.upstream = undefined;
    this.ready = false;
    this.opts.onLog?.(`the gateway primary went away with ${this.pending.size} request(s) unanswered`);
    for (const id of this.pending) this.answerLost(id, "the gateway primary stopped before answering; retry the request");
    this.pending.clear();
    // Paused for backpressure against a primary that is gone: the client must be heard again.
    this.opts.input.resume();
    if (this.queue.length) this.ensureConnected();
    this.finishIfAnswered();
  }

  private failQueued(reason: string): void {
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const { info } of queued) {
      if (info?.method && isId(info.id)) this.answerLost(info.id, `claude-mpm-gateway: ${reason}`);
    }
    this.finishIfAnswered();
  }

  private answerLost(id: Id, message: string): void {
    this.toClient(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, error: { code: PRIMARY_LOST, message } })));
  }
}
