import * as z from "zod";
import { SdkError, SdkErrorCode, type Client, type JSONRPCMessage, type Result } from "@modelcontextprotocol/client";
import type { LineTap, LineTransport } from "../transport/lineTransport.js";
import { expectAnswer, hasPrivates, setProgressHandler, takeRequestId } from "./clientPrivates.js";

/** Results of forwarded tool calls: only the shape the session needs to pass them on is checked. */
export const FORWARDED_RESULT = z.looseObject({ content: z.array(z.unknown()).default([]) });

/** What a forwarded request is sent with (DownstreamManager.forwardOptions). */
export interface LaneOptions {
  signal: AbortSignal;
  timeout: number;
  resetTimeoutOnProgress?: boolean;
  onprogress?: (progress: { progress: number; total?: number; message?: string }) => void;
  allowInputRequired?: boolean;
}

type CallRequest = { method: "tools/call"; params: Record<string, unknown> };

interface Pending {
  request: CallRequest;
  opts: LaneOptions;
  resolve: (r: Result | Promise<Result>) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  onTimeout: () => void;
  onAbort: () => void;
}

/**
 * The downstream half of the fast lane (issue 16): a tools/call the session's lane serves (src/gateway/lane.ts)
 * is written to a legacy stdio server past the SDK Client, and its answer taken off the line before the
 * Client sees it, when it is a result the Client would hand back unchanged. That skips, per call, the
 * Client's zod guards on the answer, its result decoding and validation, and its request funnel (envelope,
 * promise, response and timeout tables). Everything else stays the Client's: the id comes from its own
 * counter; progress for the call is dispatched by it (its handler registered in its table); an error or any
 * other answer is settled by it, as the answer to a request it made itself (clientPrivates.expectAnswer);
 * server requests and notifications never pass here. What the Client does around a request the lane does as
 * it does: the per-call timeout (reset by progress) and its error, `notifications/cancelled` to the server
 * when the caller aborts, and one ConnectionClosed error per call when the connection ends.
 */
export class CallLane implements LineTap {
  private readonly pending = new Map<number, Pending>();

  private constructor(
    readonly client: Client,
    private readonly transport: LineTransport,
  ) {}

  /** Puts a lane on a connected stdio client's transport; none when the SDK's internals are not as expected. */
  static attach(client: Client, transport: LineTransport): CallLane | undefined {
    if (!hasPrivates(client) || transport.tap) return undefined;
    const lane = new CallLane(client, transport);
    transport.tap = lane;
    return lane;
  }

  /**
   * Sends `request` as `client.request(request, FORWARDED_RESULT, opts)` would and settles the same way;
   * undefined when the lane cannot take it (a modern server, a closed connection, an aborted caller): the
   * Client's own path then handles it, as it would anyway.
   */
  request(request: CallRequest, opts: LaneOptions): Promise<Result> | undefined {
    const { client, transport } = this;
    if (transport.isClosed || client.transport !== transport || client.getProtocolEra() === "modern" || opts.signal.aborted) return undefined;
    const id = takeRequestId(client);
    // The Client's own request, byte for byte: its members in its order, the progress token its id.
    const params = opts.onprogress ? { ...request.params, _meta: { ...(request.params._meta as object | undefined), progressToken: id } } : request.params;
    const message = { method: request.method, params, jsonrpc: "2.0", id } as JSONRPCMessage;
    return new Promise<Result>((resolve, reject) => {
      const timeout = opts.timeout;
      const p: Pending = {
        request,
        opts,
        resolve,
        reject,
        timer: undefined,
        onTimeout: () => this.cancel(id, new SdkError(SdkErrorCode.RequestTimeout, "Request timed out", { timeout })),
        onAbort: () => this.cancel(id, opts.signal.reason),
      };
      p.timer = setTimeout(p.onTimeout, timeout);
      this.pending.set(id, p);
      const onprogress = opts.onprogress;
      if (onprogress) {
        setProgressHandler(client, id, (progress) => {
          // The Client restarts a request's clock on its progress (a new timer, as it does); the lane's clock is its own.
          if (opts.resetTimeoutOnProgress) {
            clearTimeout(p.timer);
            p.timer = setTimeout(p.onTimeout, timeout);
          }
          onprogress(progress);
        });
      }
      opts.signal.addEventListener("abort", p.onAbort, { once: true });
      transport.send(message).catch((err: unknown) => {
        if (this.forget(id)) reject(err);
      });
    });
  }

  /** LineTap: an answer to a lane call; a result the Client would pass unchanged is taken, anything else left to it. */
  take(message: JSONRPCMessage): boolean {
    if ("method" in message || !("id" in message) || this.pending.size === 0) return false;
    // As the Client matches answers: by the id's number.
    const id = Number(message.id);
    const p = this.pending.get(id);
    if (!p || !this.forget(id)) return false;
    if ("result" in message && passesUnchanged(message.result)) {
      p.resolve(message.result as Result);
      return true;
    }
    // An error or another result: the Client settles it as the answer to its own request with this id,
    // delivered to it right after this returns.
    p.resolve(expectAnswer(this.client, id, () => this.client.request(p.request, FORWARDED_RESULT, p.opts) as Promise<Result>));
    return false;
  }

  /** LineTap: the connection ended; each call in flight gets the error the Client gives its own. */
  closed(): void {
    const error = new SdkError(SdkErrorCode.ConnectionClosed, "Connection closed");
    for (const [id, p] of [...this.pending]) if (this.forget(id)) p.reject(error);
  }

  /** Calls in flight through the lane. */
  get size(): number {
    return this.pending.size;
  }

  /** The caller gave up (its signal) or the time ran out: the server is told, as the Client tells it. */
  private cancel(id: number, reason: unknown): void {
    const p = this.pending.get(id);
    if (!p || !this.forget(id)) return;
    const notice = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: String(reason) } } as JSONRPCMessage;
    this.transport.send(notice).catch(() => undefined);
    p.reject(reason instanceof SdkError ? reason : new SdkError(SdkErrorCode.RequestTimeout, String(reason)));
  }

  /** Drops a call's bookkeeping; false when it was already gone. */
  private forget(id: number): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.opts.signal.removeEventListener("abort", p.onAbort);
    if (p.opts.onprogress) setProgressHandler(this.client, id, undefined);
    return true;
  }
}

/**
 * True for a result FORWARDED_RESULT passes unchanged, key order included (zod's copy puts `content` first,
 * then the other members as they came): a plain object whose first member is an array `content`, with no
 * `resultType` (a legacy codec strips it) and no `__proto__` member (zod's copy would set a prototype).
 * test/unit/callLane.test.ts checks this against the schema itself.
 */
export function passesUnchanged(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return false;
  let first = true;
  for (const key in value) {
    if (first ? key !== "content" : key === "resultType" || key === "__proto__") return false;
    first = false;
  }
  return !first && Array.isArray((value as { content: unknown }).content);
}
