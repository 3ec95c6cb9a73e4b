import type { Duplex, Writable } from "node:stream";
import type { LineInput } from "../transport/clientInput.js";
import { LineSplitter, MAX_LINE_BYTES } from "../transport/lines.js";
import { isId, peek, peekAnswer, peekRequest, type Id, type Peek } from "./bridgePeek.js";

/** The id the bridge gives a replayed `initialize`, so its answer can be told apart and swallowed. */
export const REPLAY_ID = "claude-mpm-gateway:replay";

/**
 * What a primary handing over tells a bridge that said it `moves` (see SessionRequest): send nothing more
 * here, take the answers to what was sent, then reconnect (to the next primary) with what the client sent
 * meanwhile. No call is then lost or failed by the move. Never reaches the client.
 */
export const MOVE_NOTICE = "notifications/claude-mpm-gateway/move";

/** JSON-RPC code of the error a bridge answers with when the primary is lost or cannot be reached. */
export const PRIMARY_LOST = -32603;

const NL = Buffer.from("\n");

export interface BridgeOptions {
  /** The client's side: its requests arrive on input (a Readable, or stdin's ClientInput), answers go to output. */
  input: LineInput;
  output: Writable;
  /** Reaches (starting if need be) the primary and returns an authenticated stream; rejects if it cannot. */
  connect: () => Promise<Duplex>;
  /** Told of reconnects and failures; never stdout. */
  onLog?: (message: string) => void;
  /** Client bytes held while no primary is connected; beyond this, requests are refused. */
  maxQueueBytes?: number;
}

/** The key of the protocol version a 2026-07-28 request carries in its `_meta` (spec: basic/index). */
const VERSION_KEY = "io.modelcontextprotocol/protocolVersion";

/**
 * Which protocol era the client speaks. "modern" (2026-07-28) needs no handshake replay: each of its requests
 * carries what a new primary needs. "legacy" (up to 2025-11-25) is bound to the initialize it sent.
 */
export type ClientEra = "unknown" | "legacy" | "modern";

/** Requests that stay open for the session's life; a lost primary's are sent to the next one, not failed. */
const LONG_LIVED = new Set(["subscriptions/listen"]);

/** Methods whose params the bridge keeps or acts on (noteEra, noteSessionState, a cancellation's requestId). */
const PARAMS_READ = new Set(["initialize", "notifications/cancelled", "resources/subscribe", "resources/unsubscribe", "logging/setLevel"]);

/**
 * Writes a line and its newline as one buffer: one write, one syscall, and none of a cork's per-tick
 * bookkeeping (its nextTick and writev) on the path every call takes twice. `framed`, when the splitter
 * had the line whole in one chunk, is that buffer already (the line's own memory): no copy.
 */
function writeLine(out: Writable, line: Buffer, framed?: Buffer): boolean {
  return out.write(framed ?? Buffer.concat([line, NL], line.length + 1));
}

/**
 * The thin pipe between a client's stdio and the primary. Per message it splits lines and peeks at the
 * method, the id and the `_meta` protocol version: enough to answer what a lost primary never answered, and
 * to carry the client's session over to the next primary. A legacy client's handshake is replayed to it; a
 * modern (2026-07-28) client needs none, each of its requests standing alone; a long-lived request
 * (subscriptions/listen) is sent to it again. It connects at start and again on the first message after a
 * loss (at once when a listen is open), so a stopped gateway starts again only when a client uses it.
 */
export class Bridge {
  private upstream?: Duplex;
  private connecting?: Promise<void>;
  /** Upstream is connected and, if the client had initialized, the handshake has been replayed. */
  private ready = false;
  private queue: Array<{ line: Buffer; info?: Peek }> = [];
  private queuedBytes = 0;
  private readonly pending = new Set<Id>();
  /** Open long-lived requests (subscriptions/listen) by id: re-sent to the next primary after a loss. */
  private readonly longLived = new Map<Id, Buffer>();
  private initLine?: Buffer;
  private initializedLine?: Buffer;
  /** A legacy client's session state a new primary must be told again: its subscriptions and log level. */
  private readonly subscribed = new Set<string>();
  private logLevel?: string;
  private clientEra: ClientEra = "unknown";
  /** A modern request other than server/discover reached a primary: the client will not fall back to initialize. */
  private modernPinned = false;
  /** The client's initialize reached some primary: a new one must be given it again. */
  private initialized = false;
  /** The primary is handing over: nothing more is sent to it, and the bridge leaves once it has answered all. */
  private moving = false;
  /** The client closed its input: it sends no more, but still reads the answers to what it sent. */
  private ended = false;
  private finished?: () => void;
  // The bridge's own frame limit is the primary's: a longer line is answered here, as the primary would.
  private readonly clientLines = new LineSplitter(
    (line, framed) => this.fromClient(line, framed),
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

  /** The client's era as its messages so far show it (spec 2026-07-28, basic/transports/stdio, backward compatibility). */
  get era(): ClientEra {
    return this.clientEra;
  }

  private noteEra(info: Peek | undefined, line: Buffer): void {
    const method = info?.method;
    if (!method) return;
    const claimsModern = typeof info.params?._meta?.[VERSION_KEY] === "string";
    if (method === "initialize" && isId(info.id) && !claimsModern) {
      // A probe (server/discover) may be followed by initialize when no version is shared: the fallback is
      // legacy. After a modern request the primary refuses initialize, and the era stays modern.
      if (this.modernPinned) return;
      this.clientEra = "legacy";
      this.initLine = line;
    } else if (method === "notifications/initialized" && this.clientEra === "legacy") {
      this.initializedLine = line;
    } else if (claimsModern || method === "server/discover") {
      if (this.clientEra === "legacy" && this.initialized) return;
      this.clientEra = "modern";
      if (method !== "server/discover" && isId(info.id)) this.modernPinned = true;
    }
  }

  /**
   * Whether a client message's params must be read: for the methods in PARAMS_READ, and for every message
   * until the era is settled (a legacy client initialized, or a modern one that sent a modern request), after
   * which noteEra changes nothing on any other method's `_meta`.
   */
  private readonly needsParams = (method: string) => PARAMS_READ.has(method) || !((this.clientEra === "legacy" && this.initialized) || this.modernPinned);

  private fromClient(line: Buffer, framed?: Buffer): void {
    const info = peekRequest(line, this.needsParams);
    this.noteEra(info, line);
    if (this.ready) return this.forward(line, info, framed);
    if (this.moving && (info?.method === undefined || info.method === "notifications/cancelled")) return this.toOldPrimary(line, info);
    if (this.queuedBytes + line.length > (this.opts.maxQueueBytes ?? 16 * 1024 * 1024)) {
      if (isId(info?.id) && info.method) this.answerLost(info.id, "the gateway is reconnecting and its queue is full");
      return;
    }
    this.queue.push({ line, info });
    this.queuedBytes += line.length;
    this.ensureConnected();
  }

  private forward(line: Buffer, info?: Peek, framed?: Buffer): void {
    const up = this.upstream!;
    // A long-lived request is not "in flight" like the others: it neither holds the run open after the
    // client's EOF nor gets an error when the primary goes.
    if (info?.method && isId(info.id)) {
      if (LONG_LIVED.has(info.method)) this.longLived.set(info.id, line);
      else this.pending.add(info.id);
    }
    if (info?.method === "initialize" && this.clientEra === "legacy") this.initialized = true;
    if (this.clientEra === "legacy") this.noteSessionState(info);
    // MCP: a cancelled request gets no response, and the client has forgotten its id; an error for it
    // after a lost primary would be a response to an unknown id.
    if (info?.method === "notifications/cancelled" && isId(info.params?.requestId)) {
      this.pending.delete(info.params.requestId);
      this.longLived.delete(info.params.requestId);
    }
    // Already paused: the drain listener is set, and one per line of a chunk would leak listeners.
    if (!writeLine(up, line, framed) && !this.opts.input.isPaused()) {
      this.opts.input.pause();
      up.once("drain", () => this.opts.input.resume());
    }
  }

  private noteSessionState(info: Peek | undefined): void {
    const uri = info?.params?.uri;
    if (info?.method === "resources/subscribe" && typeof uri === "string") this.subscribed.add(uri);
    else if (info?.method === "resources/unsubscribe" && typeof uri === "string") this.subscribed.delete(uri);
    else if (info?.method === "logging/setLevel" && typeof info.params?.level === "string") this.logLevel = info.params.level;
  }

  private fromPrimary(line: Buffer, framed?: Buffer): void {
    const info = peekAnswer(line);
    if (info && isId(info.id) && info.method === undefined) {
      if (info.id === REPLAY_ID) return this.replayDone();
      // The answer to a replayed subscription or log level: the client never asked this primary for it.
      if (typeof info.id === "string" && info.id.startsWith(`${REPLAY_ID}:`)) return;
      this.pending.delete(info.id);
      this.longLived.delete(info.id);
    } else if (info?.method === MOVE_NOTICE) return this.move();
    this.toClient(line, framed);
    if (this.moving && !this.pending.size) this.leave();
    this.finishIfAnswered();
  }

  /** The primary hands over: what the client sends is held from now on, until the bridge reconnects. */
  private move(): void {
    this.moving = true;
    this.ready = false;
    if (!this.pending.size) this.leave();
  }

  /**
   * While moving, the old primary still gets the client's answers to its questions (a call waiting on a
   * sampling or elicitation answer) and cancellations: without them the calls in flight there could not end.
   */
  private toOldPrimary(line: Buffer, info: Peek | undefined): void {
    this.forward(line, info);
    if (this.moving && !this.pending.size) this.leave();
  }

  /** Everything sent to the old primary is answered: close it; lost() reconnects with what was held. */
  private leave(): void {
    this.moving = false;
    this.upstream?.end();
  }

  private toClient(line: Buffer, framed?: Buffer): void {
    if (!writeLine(this.opts.output, line, framed)) this.upstream?.pause();
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
    const lines = new LineSplitter((line, framed) => this.fromPrimary(line, framed));
    up.on("data", (chunk: Buffer) => lines.push(chunk));
    up.on("error", (err) => this.opts.onLog?.(`primary connection: ${err.message}`));
    up.once("close", () => this.lost(up));
    up.resume();
    if (this.clientEra === "legacy" && this.initialized && this.initLine) {
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
    // The rest of the legacy session the old primary held: its log level and resource subscriptions.
    const replay = (id: string, method: string, params: Record<string, unknown>) =>
      this.upstream?.write(JSON.stringify({ jsonrpc: "2.0", id: `${REPLAY_ID}:${id}`, method, params }) + "\n");
    if (this.logLevel) replay("level", "logging/setLevel", { level: this.logLevel });
    let n = 0;
    for (const uri of this.subscribed) replay(`sub-${n++}`, "resources/subscribe", { uri });
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
    this.moving = false;
    if (this.pending.size) this.opts.onLog?.(`the gateway primary went away with ${this.pending.size} request(s) unanswered`);
    for (const id of this.pending) this.answerLost(id, "the gateway primary stopped before answering; retry the request");
    this.pending.clear();
    // The client still waits on its listen streams: they go to the next primary, which is reached now.
    if (this.longLived.size && !this.ended) {
      const lines = [...this.longLived.values()];
      this.queue.unshift(...lines.map((line) => ({ line, info: peek(line) })));
      this.queuedBytes += lines.reduce((n, l) => n + l.length, 0);
      this.longLived.clear();
    }
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
