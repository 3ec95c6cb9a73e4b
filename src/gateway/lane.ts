import { SdkError, SdkErrorCode, type JSONRPCMessage, type MessageExtraInfo } from "@modelcontextprotocol/server";
import type { CallToolResult } from "@modelcontextprotocol/server";
import type { CallOrigin } from "../tools/types.js";
import { WrappingTransport } from "./wrappingTransport.js";

type Id = string | number;

/** What a session instance gives its lane: how to serve a call without the SDK's per-request machinery. */
export interface LaneSession {
  /** True while the lane may serve `name` (a legacy session, initialized, whose view calls it directly). */
  takes(name: string): boolean;
  /** The origin of a call, as the session's handler would build it from the SDK's context; `sent` hears each notification it sends. */
  origin(progressToken: Id | undefined, sent: (method: string) => void): CallOrigin;
  /** What the session's tools/call handler does with a call. */
  call(name: string, args: Record<string, unknown> | undefined, signal: AbortSignal, origin: CallOrigin): Promise<unknown>;
}

interface Pending {
  abort: AbortController;
}

/** A settled call the SDK still has to answer (an uncommon result, an error): its handler returns this. */
type PreAnswer = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * A bridge session's fast lane for `tools/call` (issue 16). The SDK's Server spends most of the primary's own
 * time per forwarded call on protocol work that a plain legacy call does not need: three zod guards per
 * message, request and result schemas, a context and an abort controller per request, the encode. The lane
 * takes a plain call before the Server sees it and runs the session's own handler code on it (the same view,
 * registry, downstream routing, flights, progress and cancellation), then answers it itself when the result
 * is one the Server would pass unchanged (text content, isError): the same bytes the Server would write.
 * Anything else it settles (another result shape, a thrown error, an input_required) goes to the Server as
 * the original request with the outcome pre-answered: the Server validates and encodes it as always.
 * A request the lane does not take (another method, other params, a modern session, a shortened or searched
 * name, a modern server's tool) goes to the Server untouched.
 */
export class FastLane extends WrappingTransport {
  private session?: LaneSession;
  private readonly pending = new Map<Id, Pending>();
  private readonly answered = new Map<Id, PreAnswer>();

  /** Called by the session factory with the instance it built (legacy era only). */
  attach(session: LaneSession): void {
    this.session = session;
  }

  /** The outcome of a call the lane ran, once, for the handler the Server runs on the re-delivered request. */
  preAnswered(id: Id): PreAnswer | undefined {
    const a = this.answered.get(id);
    if (a) this.answered.delete(id);
    return a;
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if (!this.take(message)) super.receive(message, extra);
  }

  protected override closed(): void {
    // As the Server does at close: every call in flight is aborted (the downstream requests are cancelled).
    const closed = new SdkError(SdkErrorCode.ConnectionClosed, "Connection closed");
    for (const p of this.pending.values()) p.abort.abort(closed);
    this.pending.clear();
    this.answered.clear();
    super.closed();
  }

  private take(message: JSONRPCMessage): boolean {
    if (!("method" in message)) return false;
    if (message.method === "notifications/cancelled" && !("id" in message)) return this.cancel(message.params);
    const session = this.session;
    if (!session || message.method !== "tools/call" || !("id" in message)) return false;
    const id = message.id;
    const call = plainCall(message.params);
    if (!call || this.pending.has(id) || this.answered.has(id) || !session.takes(call.name)) return false;
    const abort = new AbortController();
    this.pending.set(id, { abort });
    let progressed = false;
    const settle = (outcome: PreAnswer) => {
      if (this.pending.get(id)?.abort !== abort) return;
      this.pending.delete(id);
      // Cancelled: the Server sends nothing for an aborted request, and neither does the lane.
      if (abort.signal.aborted) return;
      // After progress, the answer takes the Server's path and pace: an SDK client that reads a progress
      // notification and its call's answer in one read drops the progress (it settles the answer first), and
      // the lane's quicker answer made that likelier. A call with no progress sent is answered here.
      if (outcome.ok && !progressed && commonToolResult(outcome.value)) {
        void this.inner.send({ result: outcome.value, jsonrpc: "2.0", id } as JSONRPCMessage).catch((err: Error) => this.onerror?.(err));
        return;
      }
      this.answered.set(id, outcome);
      this.onmessage?.(message);
    };
    let pending: Promise<unknown>;
    try {
      const origin = session.origin(call.progressToken, (method) => (progressed ||= method === "notifications/progress"));
      pending = session.call(call.name, call.args, abort.signal, origin);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => settle({ ok: true, value }),
      (error: unknown) => settle({ ok: false, error }),
    );
    return true;
  }

  /** A client's cancellation of a call in the lane: aborted as the Server aborts its handler (same reason). */
  private cancel(params: unknown): boolean {
    const p = params as { requestId?: unknown; reason?: unknown } | undefined;
    const id = p?.requestId;
    if ((typeof id !== "string" && typeof id !== "number") || !this.pending.has(id)) return false;
    // Only a notification the Server would accept (a string reason or none); any other it ignores, and so would the call.
    if (p!.reason !== undefined && typeof p!.reason !== "string") return false;
    const pending = this.pending.get(id)!;
    this.pending.delete(id);
    pending.abort.abort(p!.reason);
    return true;
  }
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/**
 * The params of a call the Server's request schema passes unchanged: a name, arguments (an object) and a
 * `_meta` holding at most a progress token; nothing else (a requestState, inputResponses, an envelope).
 */
export function plainCall(params: unknown): { name: string; args: Record<string, unknown> | undefined; progressToken: Id | undefined } | undefined {
  if (!isPlain(params) || typeof params.name !== "string") return undefined;
  let n = 1;
  const args = params.arguments;
  if (args !== undefined) {
    if (!isPlain(args)) return undefined;
    n++;
  }
  let progressToken: Id | undefined;
  if ("_meta" in params) {
    const meta = params._meta;
    if (!isPlain(meta)) return undefined;
    let m = 0;
    if ("progressToken" in meta) {
      const t = meta.progressToken;
      if (typeof t !== "string" && !(typeof t === "number" && Number.isSafeInteger(t))) return undefined;
      progressToken = t;
      m++;
    }
    if (Object.keys(meta).length !== m) return undefined;
    n++;
  }
  if (Object.keys(params).length !== n || Object.hasOwn(params, "__proto__")) return undefined;
  return { name: params.name, args: args as Record<string, unknown> | undefined, progressToken };
}

/** True when `o`'s own members are exactly `names`, in that order (the order zod's copy gives them). */
function membersInOrder(o: Record<string, unknown>, names: readonly string[]): boolean {
  const keys = Object.keys(o);
  return keys.length === names.length && keys.every((k, i) => k === names[i]);
}
const RESULT = ["content"];
const ERROR_RESULT = ["content", "isError"];
const TEXT = ["type", "text"];

/**
 * A tool result the Server's result schema passes unchanged, byte for byte once encoded: text content only,
 * and isError, each member where the schema's copy puts it (content before isError, type before text). The
 * lane writes it as the Server would; any other shape or order is the Server's to check and encode.
 */
export function commonToolResult(value: unknown): value is CallToolResult {
  if (!isPlain(value) || !Array.isArray(value.content)) return false;
  if ("isError" in value ? typeof value.isError !== "boolean" || !membersInOrder(value, ERROR_RESULT) : !membersInOrder(value, RESULT)) return false;
  for (const c of value.content as unknown[]) {
    if (!isPlain(c) || c.type !== "text" || typeof c.text !== "string" || !membersInOrder(c, TEXT)) return false;
  }
  return true;
}
