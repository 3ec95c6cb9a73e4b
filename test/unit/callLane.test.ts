// The downstream call lane (src/downstream/callLane.ts) against the SDK Client's own path: each scripted answer
// of a legacy server is sent once to a call made with client.request and once to a lane call, and the caller
// must get the same outcome (value with its key order, or the same error), the server the same bytes (ids
// aside), and the Client must never see the answers the lane takes.
import { mock, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CallLane, FORWARDED_RESULT, passesUnchanged, type LaneOptions } from "../../src/downstream/callLane.js";
import { connected, settle, type Msg } from "./lineServerKit.js";

const request = { method: "tools/call" as const, params: { name: "echo", arguments: { message: "x" } } };

function options(signal = new AbortController().signal, progress: unknown[] = [], timeout = 60_000): LaneOptions {
  return { signal, timeout, resetTimeoutOnProgress: true, allowInputRequired: true, onprogress: (p) => void progress.push(p) };
}

type Outcome = { ok: string } | { error: string };
const outcome = (p: Promise<unknown>): Promise<Outcome> =>
  p.then(
    (v) => ({ ok: JSON.stringify(v) }),
    (e: Error & { code?: unknown; data?: unknown }) => ({ error: `${e.constructor.name} ${String(e.code)} ${e.message} ${JSON.stringify(e.data)}` }),
  );
/** A line the client wrote, with the id it numbered it by (and the progress token, which is that id) taken out. */
const unnumbered = (line: string, id: number) => line.replaceAll(`"id":${id}`, `"id":#`).replaceAll(`"progressToken":${id}`, `"progressToken":#`).replaceAll(`"requestId":${id}`, `"requestId":#`);

/** Runs `script` (given the id the call was written with) against the Client's path and the lane's. */
async function both(script: (id: number, answer: (m: Msg) => void) => Promise<void> | void, opts: () => LaneOptions = () => options()) {
  const out: Array<{ outcome: Outcome; lines: string[]; reached: number; errors: string[] }> = [];
  for (const viaLane of [false, true]) {
    const c = await connected();
    const lane = CallLane.attach(c.client, c.transport)!;
    assert.ok(lane);
    const pending = viaLane ? lane.request(request, opts())! : c.client.request(request, FORWARDED_RESULT, opts());
    assert.ok(pending);
    const settled = outcome(pending);
    await settle();
    const id = c.written.at(-1)!.id as number;
    const reachedBefore = c.reached.length;
    await script(id, c.answer);
    await settle();
    out.push({ outcome: await settled, lines: c.lines.map((l) => unnumbered(l, id)), reached: c.reached.length - reachedBefore, errors: c.errors });
    assert.equal(lane.size, 0);
    await c.client.close();
  }
  const [sdk, lane] = out;
  assert.deepEqual(lane!.outcome, sdk!.outcome);
  assert.deepEqual(lane!.lines, sdk!.lines);
  assert.deepEqual(lane!.errors, sdk!.errors);
  return { sdk: sdk!, lane: lane! };
}

test("the lane writes the Client's request; a result the Client would pass unchanged is taken before the Client sees it", async () => {
  for (const result of [
    { content: [{ type: "text", text: "Echo: x \u2603 \"q\"" }] },
    { content: [{ type: "text", text: "bad" }], isError: true },
    { content: [{ type: "image", data: "AAAA", mimeType: "image/png" }], structuredContent: { a: 1 } },
  ]) {
    const { lane, sdk } = await both((id, answer) => answer({ id, result }));
    assert.equal(lane.reached, 0, JSON.stringify(result));
    assert.equal(sdk.reached, 1);
    assert.equal(lane.outcome.toString(), sdk.outcome.toString());
  }
});

test("errors and other results are settled by the Client, as the answers to its own requests", async () => {
  for (const answer of [
    { error: { code: -32602, message: "Unknown tool: echo" } },
    { error: { code: -32042, message: "needs a URL", data: { elicitations: [{ mode: "url", url: "https://x" }] } } },
    { result: {} },
    { result: { isError: true, content: [{ type: "text", text: "order" }] } },
    { result: { content: [], resultType: "complete" } },
    { result: { content: "not a list" } },
  ]) {
    const { lane } = await both((id, send) => send({ id, ...answer }));
    assert.equal(lane.reached, 1, JSON.stringify(answer));
  }
});

test("progress for a lane call reaches the caller through the Client and restarts the call's clock", async () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const heard: unknown[][] = [];
    const { lane } = await both(
      async (id, answer) => {
        // Three progress notifications 800 ms apart: past the 1000 ms timeout only if the clock never restarts.
        for (let i = 1; i <= 3; i++) {
          mock.timers.tick(800);
          answer({ method: "notifications/progress", params: { progress: i, total: 3, message: `step ${i}`, progressToken: id } });
          await settle();
        }
        mock.timers.tick(800);
        answer({ id, result: { content: [{ type: "text", text: "done" }] } });
      },
      () => {
        const progress: unknown[] = [];
        heard.push(progress);
        return options(new AbortController().signal, progress, 1000);
      },
    );
    assert.deepEqual(lane.outcome, { ok: JSON.stringify({ content: [{ type: "text", text: "done" }] }) });
    assert.deepEqual(heard[1], heard[0]);
    assert.deepEqual(heard[1], [1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })));
  } finally {
    mock.timers.reset();
  }
});

test("a call past its timeout fails as the Client's does, and the server is told it is cancelled", async () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const { lane } = await both(
      () => void mock.timers.tick(1001),
      () => options(new AbortController().signal, [], 1000),
    );
    assert.match(JSON.stringify(lane.outcome), /SdkError .* Request timed out/);
    assert.match(lane.lines.at(-1)!, /"method":"notifications\/cancelled","params":\{"requestId":#,"reason":"SdkError: Request timed out"\}/);
  } finally {
    mock.timers.reset();
  }
});

test("a caller's abort cancels the call at the server with its reason, as the Client does; a late answer goes to the Client", async () => {
  let abort!: AbortController;
  const { lane } = await both(
    async (id, answer) => {
      abort.abort("changed my mind");
      await settle();
      answer({ id, result: { content: [] } });
    },
    () => options((abort = new AbortController()).signal),
  );
  assert.match(JSON.stringify(lane.outcome), /changed my mind/);
  assert.match(lane.lines.at(-1)!, /"requestId":#,"reason":"changed my mind"/);
  // The late answer is nobody's: the Client reports it, on both paths alike.
  assert.equal(lane.reached, 1);
});

test("a connection that ends fails each call in flight once, with the Client's error", async () => {
  const c = await connected();
  const lane = CallLane.attach(c.client, c.transport)!;
  const a = outcome(lane.request(request, options())!);
  const b = outcome(c.client.request(request, FORWARDED_RESULT, options()));
  await settle();
  c.endServer();
  const [viaLane, viaSdk] = [await a, await b];
  assert.deepEqual(viaLane, viaSdk);
  assert.match(JSON.stringify(viaLane), /ConnectionClosed|Connection closed/);
  assert.equal(lane.size, 0);
  // Closed: the lane takes nothing more (the Client's path answers "Not connected" itself).
  assert.equal(lane.request(request, options()), undefined);
});

test("lane ids and the Client's own interleave without meeting; each answer reaches its caller", async () => {
  const c = await connected();
  const lane = CallLane.attach(c.client, c.transport)!;
  const calls = [lane.request(request, options())!, c.client.request({ method: "ping" }), lane.request(request, options())!];
  await settle();
  const ids = c.written.map((m) => m.id as number);
  assert.equal(new Set(ids).size, 3);
  // Answered in reverse order, each with its own id in its text.
  c.answer({ id: ids[2], result: { content: [{ type: "text", text: String(ids[2]) }] } });
  c.answer({ id: ids[1], result: {} });
  c.answer({ id: ids[0], result: { content: [{ type: "text", text: String(ids[0]) }] } });
  const [first, ping, third] = await Promise.all(calls);
  assert.deepEqual(first, { content: [{ type: "text", text: String(ids[0]) }] });
  assert.deepEqual(ping, {});
  assert.deepEqual(third, { content: [{ type: "text", text: String(ids[2]) }] });
  assert.deepEqual(c.errors, []);
  await c.client.close();
});

test("a modern server's calls, and an aborted caller's, are left to the Client", async () => {
  const c = await connected();
  const lane = CallLane.attach(c.client, c.transport)!;
  const aborted = new AbortController();
  aborted.abort("gone");
  assert.equal(lane.request(request, options(aborted.signal)), undefined);
  Object.assign(c.client, { getProtocolEra: () => "modern" });
  assert.equal(lane.request(request, options()), undefined);
  assert.equal(c.written.length, 0);
  await c.client.close();
});

test("passesUnchanged accepts only results the Client's schema passes unchanged, key order included", () => {
  const member = fc.oneof(fc.constantFrom("content", "isError", "resultType", "structuredContent", "_meta", "__proto__", "1"), fc.string());
  const result = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.array(fc.jsonValue(), { maxLength: 3 }), fc.array(fc.tuple(member, fc.jsonValue()), { maxLength: 3 })).map(([content, rest]) => `{"content":${JSON.stringify(content)}${rest.map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`).join("")}}`) },
    { weight: 1, arbitrary: fc.array(fc.tuple(member, fc.jsonValue()), { maxLength: 4 }).map((m) => `{${m.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v ?? null)}`).join(",")}}`) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v ?? null)) },
  );
  let accepted = 0;
  fc.assert(
    fc.property(result, (text) => {
      // Parsed as the transport parses a line: a "__proto__" member is an own data member then.
      const value = JSON.parse(text) as unknown;
      if (!passesUnchanged(value)) return true;
      accepted++;
      const parsed = FORWARDED_RESULT.safeParse(value);
      return parsed.success && JSON.stringify(parsed.data) === JSON.stringify(value);
    }),
    { numRuns: 5000 },
  );
  assert.ok(accepted > 500, `only ${accepted} accepted`);
  assert.equal(passesUnchanged({ isError: false, content: [] }), false);
  assert.equal(passesUnchanged(JSON.parse('{"content":[],"__proto__":{}}')), false);
});
