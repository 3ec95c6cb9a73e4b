// Multi-round-trip requests through the gateway, without processes: a modern server's input_required passed
// on with its state sealed; a legacy server's questions during a call parked and answered on the retry; a
// URL elicitation error turned into an in-band one; and every way a retry can be wrong.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError } from "@modelcontextprotocol/client";
import { RoundTrips, isInputRequired, type InputRequired, type RoundTripCall } from "../../src/downstream/roundTrip.js";
import { StateSigner, requestDigest } from "../../src/downstream/stateSigner.js";
import type { CallOrigin } from "../../src/tools/types.js";

const signer = new StateSigner(Buffer.alloc(32, 1));
const REQ = requestDigest("tools/call", "old__ask", {});

function origin(over: Partial<CallOrigin> = {}): CallOrigin {
  return {
    sessionId: 1,
    era: "modern",
    binding: "bridge-1",
    notify: async () => undefined,
    request: () => Promise.reject(new Error("a modern client takes no requests")),
    clientCapabilities: () => ({ elicitation: { form: {}, url: {} } }),
    ...over,
  };
}

function call(o: CallOrigin = origin(), req = REQ): RoundTripCall {
  return { server: "old", req, origin: o, signal: new AbortController().signal };
}

const retry = (first: InputRequired, inputResponses: Record<string, unknown>, over: Partial<CallOrigin> = {}) =>
  call(origin({ retry: { inputResponses, requestState: first.requestState! }, ...over }));

async function rejects(p: Promise<unknown> | (() => unknown), code: number, message: RegExp): Promise<void> {
  await assert.rejects(async () => (typeof p === "function" ? p() : p), (err: { code?: number; message?: string }) => {
    assert.equal(err.code, code);
    assert.match(err.message ?? "", message);
    return true;
  });
}

describe("RoundTrips: a modern server's input_required", () => {
  test("is passed on with its own state sealed inside the gateway's, and unsealed on the retry", () => {
    const rounds = new RoundTrips(signer);
    const out = rounds.relay(call(), {
      resultType: "input_required",
      inputRequests: { who: { method: "elicitation/create", params: { message: "Who?", requestedSchema: { type: "object", properties: {} } } } },
      requestState: "the-servers-own-state",
      _meta: { "io.modelcontextprotocol/serverInfo": { name: "downstream", version: "1" } },
    } as InputRequired) as InputRequired;
    assert.ok(isInputRequired(out));
    assert.deepEqual(Object.keys(out.inputRequests!), ["who"]);
    assert.equal(out._meta, undefined, "the server's identity stays behind");
    assert.doesNotMatch(out.requestState!, /the-servers-own-state/);
    const claims = rounds.resume(retry(out, {}));
    assert.deepEqual(claims?.body, { k: "pass", ds: "the-servers-own-state" });
  });

  test("a complete result goes through untouched; a first call has nothing to resume", () => {
    const rounds = new RoundTrips(signer);
    const done = { content: [{ type: "text", text: "ok" }] };
    assert.equal(rounds.relay(call(), done), done);
    assert.equal(rounds.resume(call()), undefined);
  });

  test("a retry from another session, for another request or with a forged state is a -32602 error", async () => {
    const rounds = new RoundTrips(signer);
    const out = rounds.relay(call(), { resultType: "input_required", requestState: "s" } as InputRequired) as InputRequired;
    await rejects(() => rounds.resume(retry(out, {}, { binding: "bridge-2" })), -32602, /another session/);
    await rejects(() => rounds.resume({ ...retry(out, {}), req: requestDigest("tools/call", "old__ask", { x: 1 }) }), -32602, /another request/);
    await rejects(() => rounds.resume({ ...retry(out, {}), server: "other" }), -32602, /another request/);
    await rejects(() => rounds.resume(call(origin({ retry: { requestState: "forged" } }))), -32602, /not one this gateway issued/);
    await rejects(() => new RoundTrips(new StateSigner(Buffer.alloc(32, 2))).resume(retry(out, {})), -32602, /signature does not match/);
  });
});

describe("RoundTrips: a legacy server's requests during a call, for a modern client", () => {
  /** A legacy call that asks its client `questions` in turn, then finishes with their answers. */
  function legacyCall(questions: string[]) {
    let aborted: unknown;
    const start = async (asking: CallOrigin, signal: AbortSignal) => {
      signal.addEventListener("abort", () => (aborted = signal.reason));
      const answers: string[] = [];
      for (const q of questions) {
        const r = (await asking.request({ method: "elicitation/create", params: { message: q, requestedSchema: { type: "object", properties: {} } } }, signal)) as {
          action: string;
          content?: { name?: string };
        };
        answers.push(`${r.action}:${r.content?.name ?? ""}`);
      }
      return { content: [{ type: "text", text: answers.join(",") }] };
    };
    return { start, aborted: () => aborted };
  }

  test("each question parks the call and goes out as input_required; each retry answers it, until the call completes", async () => {
    const rounds = new RoundTrips(signer);
    const legacy = legacyCall(["Name?", "Really?"]);
    const first = (await rounds.park(call(), legacy.start)) as InputRequired;
    assert.ok(isInputRequired(first));
    const [k1] = Object.keys(first.inputRequests!);
    assert.equal((first.inputRequests![k1!]!.params as { message: string }).message, "Name?");
    const claims = rounds.resume(retry(first, {}))!;
    assert.equal(claims.body.k, "park");
    const second = (await rounds.unpark(retry(first, { [k1!]: { action: "accept", content: { name: "ann" } } }), (claims.body as { id: string }).id)) as InputRequired;
    assert.ok(isInputRequired(second));
    const [k2] = Object.keys(second.inputRequests!);
    assert.notEqual(k2, k1);
    const id2 = (rounds.resume(retry(second, {}))!.body as { id: string }).id;
    const done = await rounds.unpark(retry(second, { [k2!]: { action: "decline" } }), id2);
    assert.deepEqual(done, { content: [{ type: "text", text: "accept:ann,decline:" }] });
  });

  test("a retry that leaves a question unanswered is asked it again; answers for unknown keys are ignored", async () => {
    const rounds = new RoundTrips(signer);
    const first = (await rounds.park(call(), legacyCall(["Name?"]).start)) as InputRequired;
    const id = (rounds.resume(retry(first, {}))!.body as { id: string }).id;
    const again = (await rounds.unpark(retry(first, { nonsense: { action: "accept" }, also: 42 }), id)) as InputRequired;
    assert.deepEqual(Object.keys(again.inputRequests!), Object.keys(first.inputRequests!));
    const id2 = (rounds.resume(retry(again, {}))!.body as { id: string }).id;
    const key = Object.keys(again.inputRequests!)[0]!;
    assert.deepEqual(await rounds.unpark(retry(again, { [key]: { action: "accept", content: { name: "bo" } } }), id2), { content: [{ type: "text", text: "accept:bo" }] });
  });

  test("a parked call is used once, by its own session only; a spent or unknown one says to call again", async () => {
    const rounds = new RoundTrips(signer);
    const first = (await rounds.park(call(), legacyCall(["Name?"]).start)) as InputRequired;
    const id = (rounds.resume(retry(first, {}))!.body as { id: string }).id;
    await rejects(rounds.unpark(retry(first, {}, { binding: "bridge-2" }), id), -32602, /call the tool again/);
    const key = Object.keys(first.inputRequests!)[0]!;
    await rounds.unpark(retry(first, { [key]: { action: "accept", content: { name: "x" } } }), id);
    await rejects(rounds.unpark(retry(first, {}), id), -32602, /call the tool again/);
    await rejects(rounds.unpark(retry(first, {}), "no-such-call"), -32602, /call the tool again/);
  });

  test("a client that never comes back: past the wait the server's question is cancelled and its call aborted", async () => {
    const rounds = new RoundTrips(signer, 50);
    const legacy = legacyCall(["Name?"]);
    const first = (await rounds.park(call(), legacy.start)) as InputRequired;
    assert.ok(isInputRequired(first));
    await new Promise((r) => setTimeout(r, 150));
    assert.match(String(legacy.aborted()), /did not answer in time/);
    await rejects(rounds.unpark(retry(first, {}), "x"), -32602, /call the tool again/);
  });

  test("a call that needs nothing completes on the first round; a failing one fails", async () => {
    const rounds = new RoundTrips(signer);
    assert.deepEqual(await rounds.park(call(), async () => ({ content: [] })), { content: [] });
    await assert.rejects(rounds.park(call(), async () => Promise.reject(new Error("boom"))), /boom/);
  });
});

describe("RoundTrips: a legacy server's URL elicitation error (-32042)", () => {
  test("becomes an input_required URL elicitation without its 2025 elicitationId; the retry calls again", () => {
    const rounds = new RoundTrips(signer);
    const err = new ProtocolError(-32042, "needs sign-in", {
      elicitations: [{ mode: "url", elicitationId: "e-1", url: "https://example.com/x", message: "Sign in" }],
    });
    const out = rounds.urlElicitation(call(), err) as InputRequired;
    assert.deepEqual(out.inputRequests, { "url-1": { method: "elicitation/create", params: { mode: "url", url: "https://example.com/x", message: "Sign in" } } });
    assert.deepEqual(rounds.resume(retry(out, { "url-1": { action: "accept" } }))?.body, { k: "again" });
    assert.equal(rounds.urlElicitation(call(), new ProtocolError(-32602, "bad")), undefined);
    assert.equal(rounds.urlElicitation(call(), new Error("other")), undefined);
  });
});
