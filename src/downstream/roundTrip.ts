import { randomBytes } from "node:crypto";
import { ProtocolError, ProtocolErrorCode, type InputRequests, type Result, type ServerRequest } from "@modelcontextprotocol/client";
import type { CallOrigin } from "../tools/types.js";
import { rpcError } from "./rpcError.js";
import { StateRejected, type StateBody, type StateClaims, type StateSigner } from "./stateSigner.js";

/** How long a client has to answer an `input_required` and retry; a legacy server's parked call waits as long. */
export const ROUND_TTL_MS = 10 * 60_000;

/** MCP's code for a URL-mode elicitation a 2025-era server needs before it can go on (spec 2025-11-25). */
export const URL_ELICITATION_REQUIRED = -32042;

/** The wire shape of an `input_required` result (2026-07-28, basic/patterns/mrtr). */
export interface InputRequired extends Result {
  resultType: "input_required";
  inputRequests?: InputRequests;
  requestState?: string;
}

/** True for a result that asks the client for input rather than completing the request. */
export function isInputRequired(result: unknown): result is InputRequired {
  return !!result && typeof result === "object" && (result as { resultType?: unknown }).resultType === "input_required";
}

/** What one forwarded request is: which server, which request (for the state's binding), who asked. */
export interface RoundTripCall {
  server: string;
  /** `requestDigest(method, name the client called, arguments)`. */
  req: string;
  origin: CallOrigin | undefined;
  /** The client's request (this round's): aborted when the client cancels it. */
  signal: AbortSignal;
}

type Pending = { request: ServerRequest; settle: (r: Result | Error) => void; sent: boolean };

/**
 * A legacy server's call that asked its client something (elicitation, sampling, roots) on behalf of a modern
 * client: the call stays open here while the question travels to the client as `input_required` and the
 * answer comes back on the client's retry. Lives in this process only; a retry reaching another primary
 * finds none and is told to call again (the server's call died with the old primary anyway).
 */
class Parked {
  readonly id = randomBytes(16).toString("base64url");
  readonly abort = new AbortController();
  private readonly pending = new Map<string, Pending>();
  private next = 1;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The request the client is waiting on now: progress goes to it. */
  current: CallOrigin | undefined;
  /** The server's call; settles once, whatever the rounds. */
  done: Promise<Result> = Promise.resolve({});

  constructor(
    readonly bind: string,
    readonly req: string,
  ) {}

  /** A request of the server during the call: held until the client answers it on a retry. */
  ask(request: ServerRequest, signal: AbortSignal): Promise<Result> {
    const key = `${request.method === "elicitation/create" ? "elicit" : request.method === "sampling/createMessage" ? "sample" : "roots"}-${this.next++}`;
    return new Promise<Result>((resolve, reject) => {
      const entry: Pending = { request, sent: false, settle: (r) => (r instanceof Error ? reject(r) : resolve(r)) };
      this.pending.set(key, entry);
      signal.addEventListener("abort", () => {
        this.pending.delete(key);
        reject(signal.reason instanceof Error ? signal.reason : new Error("cancelled"));
      }, { once: true });
      this.wake?.();
    });
  }

  /** Waits for the call to finish or to ask something; the questions not yet put to the client, or undefined when done. */
  async settle(): Promise<InputRequests | undefined> {
    for (;;) {
      const unsent = [...this.pending].filter(([, p]) => !p.sent);
      if (unsent.length) {
        for (const [, p] of unsent) p.sent = true;
        // Every question still open goes out again: a client that answered only some is asked the rest.
        return Object.fromEntries([...this.pending].map(([k, p]) => [k, { method: p.request.method, params: p.request.params } as InputRequests[string]]));
      }
      const asked = new Promise<void>((r) => (this.wake = r));
      const finished = await Promise.race([this.done.then(() => true, () => true), asked.then(() => false)]);
      this.wake = undefined;
      if (finished) return undefined;
    }
  }

  /** Hands the client's answers to the server's waiting requests; unknown keys are ignored (spec: SHOULD ignore). */
  answer(responses: Record<string, unknown> | undefined): void {
    for (const [key, value] of Object.entries(responses ?? {})) {
      const p = this.pending.get(key);
      if (!p || !value || typeof value !== "object" || Array.isArray(value)) continue;
      this.pending.delete(key);
      p.settle(value as Result);
    }
    // What the client left unanswered is asked again on this round.
    for (const p of this.pending.values()) p.sent = false;
  }

  /** Starts the wait for the client's next retry; past it the call is given up. */
  arm(ttlMs: number, expire: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(expire, ttlMs);
    this.timer.unref();
  }

  /** The retry came. */
  disarm(): void {
    clearTimeout(this.timer);
  }

  /** Gives the call up: the server's open questions are declined, its call cancelled. */
  drop(why: string): void {
    clearTimeout(this.timer);
    for (const p of this.pending.values()) {
      p.settle(p.request.method === "elicitation/create" ? ({ action: "cancel" } as Result) : new Error(why));
    }
    this.pending.clear();
    this.abort.abort(new Error(why));
  }
}

/**
 * Multi-round-trip requests through the gateway (2026-07-28, basic/patterns/mrtr). The gateway never hands a
 * client a downstream server's own `requestState`: it seals it, with the server, the session and the
 * request it belongs to, into a state of its own (see StateSigner), and unwraps it on the retry. A legacy
 * server's requests during a call become `input_required` for a modern client (its call parked meanwhile),
 * and its -32042 URL elicitation becomes an `input_required` URL elicitation, after which the call is made
 * again.
 */
export class RoundTrips {
  private readonly parked = new Map<string, Parked>();

  constructor(
    private readonly signer: StateSigner,
    private readonly ttlMs: number = ROUND_TTL_MS,
  ) {}

  /** The claims of a retry's `requestState`, undefined on a first call; a forged, stale or foreign one is a -32602 error. */
  resume(call: RoundTripCall): StateClaims | undefined {
    const state = call.origin?.retry?.requestState;
    if (state === undefined) return undefined;
    let claims: StateClaims;
    try {
      claims = this.signer.open(state, { bind: call.origin?.binding ?? "", req: call.req });
    } catch (err) {
      if (err instanceof StateRejected) throw rpcError(ProtocolErrorCode.InvalidParams, err.message, { reason: err.reason });
      throw err;
    }
    if (claims.srv !== call.server) throw rpcError(ProtocolErrorCode.InvalidParams, new StateRejected("other-request").message, { reason: "other-request" });
    return claims;
  }

  /** A modern server's `input_required`, its own state sealed inside the gateway's; anything else as it came. */
  relay(call: RoundTripCall, result: Result): Result {
    if (!isInputRequired(result)) return result;
    const { requestState, inputRequests, _meta: _serverMeta, ...rest } = result;
    return {
      ...rest,
      resultType: "input_required",
      ...(inputRequests ? { inputRequests } : {}),
      requestState: this.seal(call, requestState !== undefined ? { k: "pass", ds: requestState } : { k: "pass" }),
    } as InputRequired;
  }

  /**
   * Runs a legacy server's call for a modern client: each request the server makes meanwhile parks the call
   * and goes to the client as `input_required`. `start` begins the call with an origin whose `request`
   * parks; it is called once, on the first round.
   */
  async park(call: RoundTripCall, start: (asking: CallOrigin, signal: AbortSignal) => Promise<Result>): Promise<Result> {
    const parked = new Parked(call.origin?.binding ?? "", call.req);
    const asking: CallOrigin = {
      ...call.origin!,
      request: (request, signal) => parked.ask(request, signal),
      // Progress of the server's call goes to whichever of the client's requests is waiting on it now.
      notify: (n) => parked.current?.notify(n) ?? Promise.resolve(),
    };
    Object.defineProperty(asking, "progressToken", { get: () => parked.current?.progressToken, enumerable: true });
    parked.current = call.origin;
    parked.done = start(asking, parked.abort.signal);
    // Awaited by a later round, or never (the client gave up): never an unhandled rejection.
    parked.done.catch(() => undefined);
    return this.round(call, parked);
  }

  /** A retry of a parked call: the client's answers go to the server, and the call goes on. */
  async unpark(call: RoundTripCall, id: string): Promise<Result> {
    const parked = this.parked.get(id);
    if (!parked || parked.bind !== (call.origin?.binding ?? "") || parked.req !== call.req) {
      throw rpcError(
        ProtocolErrorCode.InvalidParams,
        "the call this requestState continues is gone (the gateway restarted or it waited too long): call the tool again",
        { reason: "gone" },
      );
    }
    this.parked.delete(id);
    parked.disarm();
    parked.current = call.origin;
    parked.answer(call.origin?.retry?.inputResponses);
    return this.round(call, parked);
  }

  /** A legacy server's -32042, as a modern client's `input_required` URL elicitation; the retry calls again. */
  urlElicitation(call: RoundTripCall, err: unknown): Result | undefined {
    if (!(err instanceof ProtocolError) || err.code !== URL_ELICITATION_REQUIRED) return undefined;
    const list = (err.data as { elicitations?: Array<Record<string, unknown>> } | undefined)?.elicitations;
    if (!Array.isArray(list) || !list.length) return undefined;
    // 2026-07-28 has no elicitationId: the retry itself tells the server the user is done.
    const inputRequests = Object.fromEntries(
      list.map((e, i) => {
        const { elicitationId: _id, ...params } = e;
        return [`url-${i + 1}`, { method: "elicitation/create", params: { ...params, mode: "url" } }];
      }),
    ) as InputRequests;
    return { resultType: "input_required", inputRequests, requestState: this.seal(call, { k: "again" }) } as InputRequired;
  }

  /** Gives up every parked call (the gateway stops). */
  stop(): void {
    for (const p of this.parked.values()) p.drop("the gateway is stopping");
    this.parked.clear();
  }

  private async round(call: RoundTripCall, parked: Parked): Promise<Result> {
    const cancel = () => parked.drop("the client cancelled the call");
    call.signal.addEventListener("abort", cancel, { once: true });
    try {
      const questions = await parked.settle();
      if (!questions) return await parked.done;
      this.parked.set(parked.id, parked);
      parked.arm(this.ttlMs, () => {
        this.parked.delete(parked.id);
        parked.drop("the client did not answer in time");
      });
      return { resultType: "input_required", inputRequests: questions, requestState: this.seal(call, { k: "park", id: parked.id }) } as InputRequired;
    } finally {
      call.signal.removeEventListener("abort", cancel);
    }
  }

  private seal(call: RoundTripCall, body: StateBody): string {
    return this.signer.seal({ bind: call.origin?.binding ?? "", req: call.req, srv: call.server, body }, this.ttlMs);
  }
}
