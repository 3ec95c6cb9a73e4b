// forward(): one request of a client to a downstream server across eras, with a fake server connection:
// what a modern server is sent (the caller's capabilities, its own state back), what the client gets (no
// server identity, the gateway's sealed state), and how a legacy server's questions and -32042 are carried.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError, type Client, type Result } from "@modelcontextprotocol/client";
import { forward, withoutServerIdentity } from "../../src/downstream/forward.js";
import { RoundTrips, isInputRequired, type InputRequired } from "../../src/downstream/roundTrip.js";
import { StateSigner, requestDigest } from "../../src/downstream/stateSigner.js";
import type { CallOrigin } from "../../src/tools/types.js";

const CAPS = "io.modelcontextprotocol/clientCapabilities";
const IDENTITY = "io.modelcontextprotocol/serverInfo";
const REQ = requestDigest("tools/call", "srv__t", {});

function origin(over: Partial<CallOrigin> = {}): CallOrigin {
  return {
    sessionId: 1,
    era: "modern",
    binding: "b",
    notify: async () => undefined,
    request: () => Promise.reject(new Error("not here")),
    clientCapabilities: () => ({ elicitation: { form: {} } }),
    ...over,
  };
}

/** A server connection of one era whose answers `reply` makes from what it was sent. */
function server(era: "modern" | "legacy", reply: (extra: Record<string, unknown>, asking: CallOrigin | undefined) => Promise<Result>) {
  const sent: Array<Record<string, unknown>> = [];
  const client = { getProtocolEra: () => era } as unknown as Client;
  return {
    sent,
    spec: (o: CallOrigin | undefined) => ({
      call: { server: "srv", req: REQ, origin: o, signal: new AbortController().signal },
      client,
      flight: (_o: CallOrigin | undefined, fn: () => Promise<Result>) => fn(),
      send: (_c: Client, extra: Record<string, unknown>, asking: CallOrigin | undefined) => {
        sent.push(extra);
        return reply(extra, asking);
      },
    }),
  };
}

describe("forward", () => {
  const rounds = new RoundTrips(new StateSigner(Buffer.alloc(32, 3)));

  test("a modern server hears the caller's capabilities and, on the retry, its own state; the client never sees its identity or state", async () => {
    const s = server("modern", async (extra) =>
      extra.requestState === "mine"
        ? { content: [{ type: "text", text: "done" }], _meta: { [IDENTITY]: { name: "downstream", version: "1" }, other: 1 } }
        : ({ resultType: "input_required", inputRequests: { q: { method: "elicitation/create", params: {} } }, requestState: "mine", _meta: { [IDENTITY]: { name: "downstream" } } } as unknown as InputRequired),
    );
    const first = (await forward(rounds, s.spec(origin()))) as InputRequired;
    assert.ok(isInputRequired(first));
    assert.equal(first._meta, undefined);
    assert.notEqual(first.requestState, "mine");
    assert.deepEqual(s.sent[0], { _meta: { [CAPS]: { elicitation: { form: {} } } } });
    const done = await forward(rounds, s.spec(origin({ retry: { requestState: first.requestState!, inputResponses: { q: { action: "decline" } } } })));
    assert.deepEqual(done, { content: [{ type: "text", text: "done" }], _meta: { other: 1 } });
    assert.deepEqual(s.sent[1], { _meta: { [CAPS]: { elicitation: { form: {} } } }, inputResponses: { q: { action: "decline" } }, requestState: "mine" });
  });

  test("with no client to ask (the test command), a modern server's question is an error saying what it asks", async () => {
    const s = server("modern", async () => ({ resultType: "input_required", inputRequests: { a: { method: "sampling/createMessage", params: {} } } }) as unknown as InputRequired);
    await assert.rejects(forward(rounds, s.spec(undefined)), /asks for input \(sampling\/createMessage\) and no client is here/);
    assert.deepEqual(s.sent[0], {}, "no capabilities are claimed for no one");
  });

  test("a legacy server is sent nothing extra; its questions reach a modern client as input_required, a legacy client directly", async () => {
    const ask = async (_extra: Record<string, unknown>, asking: CallOrigin | undefined) => {
      const r = (await asking!.request({ method: "elicitation/create", params: { message: "Name?", requestedSchema: { type: "object", properties: {} } } }, new AbortController().signal)) as { action: string };
      return { content: [{ type: "text", text: r.action }] };
    };
    const s = server("legacy", ask);
    const parked = (await forward(rounds, s.spec(origin()))) as InputRequired;
    assert.deepEqual(Object.values(parked.inputRequests!).map((r) => r.method), ["elicitation/create"]);
    const key = Object.keys(parked.inputRequests!)[0]!;
    const done = await forward(rounds, s.spec(origin({ retry: { requestState: parked.requestState!, inputResponses: { [key]: { action: "accept" } } } })));
    assert.deepEqual(done, { content: [{ type: "text", text: "accept" }] });
    const direct = await forward(rounds, s.spec(origin({ era: "legacy", request: async () => ({ action: "cancel" }) })));
    assert.deepEqual(direct, { content: [{ type: "text", text: "cancel" }] });
    assert.deepEqual(s.sent, [{}, {}]);
  });

  test("a legacy server's -32042 is an in-band URL elicitation only for a modern client that can open URLs", async () => {
    const err = new ProtocolError(-32042, "sign in", { elicitations: [{ mode: "url", elicitationId: "e", url: "https://x.example/", message: "m" }] });
    const s = server("legacy", async () => Promise.reject(err));
    const urlCaps = { clientCapabilities: () => ({ elicitation: { form: {}, url: {} } }) };
    const asked = (await forward(rounds, s.spec(origin(urlCaps)))) as InputRequired;
    assert.equal(Object.values(asked.inputRequests!)[0]!.method, "elicitation/create");
    await assert.rejects(forward(rounds, s.spec(origin())), (e) => e === err);
    await assert.rejects(forward(rounds, s.spec(origin({ era: "legacy", ...urlCaps }))), (e) => e === err);
  });

  test("a state for a server that has since become a legacy one is refused with a clear error", async () => {
    const modern = server("modern", async () => ({ resultType: "input_required", requestState: "x" }) as InputRequired);
    const first = (await forward(rounds, modern.spec(origin()))) as InputRequired;
    const legacy = server("legacy", async () => ({ content: [] }));
    await assert.rejects(forward(rounds, legacy.spec(origin({ retry: { requestState: first.requestState! } }))), /has changed since: call the tool again/);
  });

  test("withoutServerIdentity leaves a result with no identity as it is", () => {
    const r = { content: [], _meta: { a: 1 } };
    assert.equal(withoutServerIdentity(r), r);
    assert.deepEqual(withoutServerIdentity({ content: [], _meta: { [IDENTITY]: { name: "s", version: "1" } } }), { content: [] });
  });
});
