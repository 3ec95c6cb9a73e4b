// Bridge: the client's stdio on one side, a fake primary on an in-memory duplex on the other. What the
// client sees must be a normal MCP peer: every request answered once, a lost primary replaced unseen.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Duplex, PassThrough } from "node:stream";
import { Bridge, MOVE_NOTICE, PRIMARY_LOST, REPLAY_ID } from "../../src/gateway/bridge.js";

type Msg = Record<string, unknown>;

/** Collects newline-delimited JSON from a stream. */
function collect(stream: PassThrough, into: Msg[]): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line) into.push(JSON.parse(line) as Msg);
    }
  });
}

/** One primary as the bridge sees it: the far end of an in-memory socket. */
class FakePrimary {
  readonly toBridge = new PassThrough();
  readonly fromBridge: PassThrough;
  /** The bridge's end of the connection. */
  readonly side: Duplex;
  /** Messages the bridge sent to this primary. */
  readonly got: Msg[] = [];

  constructor(opts: { highWaterMark?: number; read?: boolean } = {}) {
    this.fromBridge = new PassThrough(opts.highWaterMark ? { highWaterMark: opts.highWaterMark } : {});
    this.side = Duplex.from({ readable: this.toBridge, writable: this.fromBridge });
    if (opts.read !== false) collect(this.fromBridge, this.got);
  }

  send(msg: Msg): void {
    this.toBridge.write(JSON.stringify(msg) + "\n");
  }

  /** The primary dies: the connection closes with whatever was in flight. */
  kill(): void {
    this.side.destroy();
  }
}

interface Rig {
  bridge: Bridge;
  /** The client's stdin and stdout. */
  input: PassThrough;
  output: PassThrough;
  /** What the client received. */
  seen: Msg[];
  primaries: FakePrimary[];
  connects: number;
  logs: string[];
  done: Promise<void>;
  send(msg: Msg): void;
}

const tick = () => new Promise((r) => setImmediate(r));
async function settle(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

/**
 * A bridge whose connect() hands out primaries made by `next` (default: a fresh FakePrimary each time), or
 * rejects when `next` throws.
 */
function rig(opts: { next?: (n: number) => FakePrimary | Promise<FakePrimary>; output?: PassThrough; readOutput?: boolean; maxQueueBytes?: number } = {}): Rig {
  const input = new PassThrough();
  const output = opts.output ?? new PassThrough();
  const r: Rig = {
    bridge: undefined as unknown as Bridge,
    input,
    output,
    seen: [],
    primaries: [],
    connects: 0,
    logs: [],
    done: Promise.resolve(),
    send: (msg) => input.write(JSON.stringify(msg) + "\n"),
  };
  if (opts.readOutput !== false) collect(output, r.seen);
  r.bridge = new Bridge({
    input,
    output,
    maxQueueBytes: opts.maxQueueBytes,
    onLog: (m) => r.logs.push(m),
    connect: async () => {
      r.connects++;
      const p = await (opts.next ?? (() => new FakePrimary()))(r.connects);
      r.primaries.push(p);
      return p.side;
    },
  });
  r.done = r.bridge.run();
  return r;
}

const INIT = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } };
const INITIALIZED = { jsonrpc: "2.0", method: "notifications/initialized" };
const INIT_RESULT = { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "p", version: "1" } };

/** Runs the MCP handshake through the bridge against its current primary. */
async function handshake(r: Rig): Promise<void> {
  r.send(INIT);
  await settle();
  r.primaries.at(-1)!.send({ jsonrpc: "2.0", id: 0, result: INIT_RESULT });
  r.send(INITIALIZED);
  await settle();
}

describe("Bridge", () => {
  test("forwards client lines to the primary and the primary's lines to the client, byte-exact", async () => {
    const r = rig();
    await settle();
    assert.equal(r.connects, 1, "connects at start, before the first message");
    r.input.write('{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"é"}}\r\n');
    await settle();
    const p = r.primaries[0]!;
    assert.deepEqual(p.got, [{ jsonrpc: "2.0", id: 1, method: "tools/list", params: { x: "é" } }]);
    p.send({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    p.send({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    // A request from the primary to the client (sampling, roots, ping) passes through, and so does its answer.
    p.send({ jsonrpc: "2.0", id: 100, method: "ping" });
    await settle();
    assert.deepEqual(r.seen, [
      { jsonrpc: "2.0", id: 1, result: { tools: [] } },
      { jsonrpc: "2.0", method: "notifications/tools/list_changed" },
      { jsonrpc: "2.0", id: 100, method: "ping" },
    ]);
    r.send({ jsonrpc: "2.0", id: 100, result: {} });
    await settle();
    assert.deepEqual(p.got.at(-1), { jsonrpc: "2.0", id: 100, result: {} });
    r.input.end();
    await r.done;
  });

  test("messages sent before the primary answers are queued and delivered in order", async () => {
    let release!: (p: FakePrimary) => void;
    const r = rig({ next: () => new Promise<FakePrimary>((res) => (release = res)) });
    r.send(INIT);
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    await settle();
    const p = new FakePrimary();
    release(p);
    await settle();
    assert.deepEqual(p.got.map((m) => m.id ?? m.method), [0, 1]);
    assert.equal(p.got.some((m) => m.id === REPLAY_ID), false, "nothing to replay on a first connection");
  });

  test("after a lost primary, replays initialize with the replay id, swallows its answer, re-sends initialized, then flushes", async () => {
    const r = rig();
    await settle();
    await handshake(r);
    const first = r.primaries[0]!;
    assert.deepEqual(first.got, [INIT, INITIALIZED]);
    assert.deepEqual(r.seen, [{ jsonrpc: "2.0", id: 0, result: INIT_RESULT }]);

    first.kill();
    await settle();
    assert.equal(r.connects, 1, "no reconnect until the client speaks again");

    r.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    r.send({ jsonrpc: "2.0", method: "notifications/roots/list_changed" });
    await settle();
    assert.equal(r.connects, 2);
    const second = r.primaries[1]!;
    // Only the replayed initialize, until the new primary answers it.
    assert.deepEqual(second.got, [{ ...INIT, id: REPLAY_ID }]);
    second.send({ jsonrpc: "2.0", id: REPLAY_ID, result: INIT_RESULT });
    await settle();
    assert.deepEqual(second.got, [{ ...INIT, id: REPLAY_ID }, INITIALIZED, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { jsonrpc: "2.0", method: "notifications/roots/list_changed" }]);
    second.send({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    await settle();
    // The client never sees the replay's answer: only its own two responses, in order.
    assert.deepEqual(r.seen, [
      { jsonrpc: "2.0", id: 0, result: INIT_RESULT },
      { jsonrpc: "2.0", id: 1, result: { tools: [] } },
    ]);
  });

  test("after a lost primary, a legacy client's log level and subscriptions are replayed too, their answers swallowed", async () => {
    const r = rig();
    await settle();
    await handshake(r);
    const first = r.primaries[0]!;
    r.send({ jsonrpc: "2.0", id: 1, method: "logging/setLevel", params: { level: "debug" } });
    r.send({ jsonrpc: "2.0", id: 2, method: "resources/subscribe", params: { uri: "file:///a" } });
    r.send({ jsonrpc: "2.0", id: 3, method: "resources/subscribe", params: { uri: "file:///b" } });
    r.send({ jsonrpc: "2.0", id: 4, method: "resources/unsubscribe", params: { uri: "file:///a" } });
    r.send({ jsonrpc: "2.0", id: 5, method: "logging/setLevel", params: { level: "warning" } });
    await settle();
    for (const id of [1, 2, 3, 4, 5]) first.send({ jsonrpc: "2.0", id, result: {} });
    await settle();
    first.kill();
    await settle();
    r.send({ jsonrpc: "2.0", id: 6, method: "tools/list" });
    await settle();
    const second = r.primaries[1]!;
    second.send({ jsonrpc: "2.0", id: REPLAY_ID, result: INIT_RESULT });
    await settle();
    assert.deepEqual(second.got, [
      { ...INIT, id: REPLAY_ID },
      INITIALIZED,
      { jsonrpc: "2.0", id: `${REPLAY_ID}:level`, method: "logging/setLevel", params: { level: "warning" } },
      { jsonrpc: "2.0", id: `${REPLAY_ID}:sub-0`, method: "resources/subscribe", params: { uri: "file:///b" } },
      { jsonrpc: "2.0", id: 6, method: "tools/list" },
    ]);
    second.send({ jsonrpc: "2.0", id: `${REPLAY_ID}:level`, result: {} });
    second.send({ jsonrpc: "2.0", id: `${REPLAY_ID}:sub-0`, error: { code: -32002, message: "gone" } });
    second.send({ jsonrpc: "2.0", id: 6, result: { tools: [] } });
    await settle();
    assert.deepEqual(r.seen.map((m) => m.id), [0, 1, 2, 3, 4, 5, 6], "the client sees only answers to its own requests");
  });

  test("a replay answered with an error still lets the queued messages through", async () => {
    const r = rig();
    await settle();
    await handshake(r);
    r.primaries[0]!.kill();
    await settle();
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    await settle();
    const second = r.primaries[1]!;
    second.send({ jsonrpc: "2.0", id: REPLAY_ID, error: { code: -32602, message: "unsupported protocol version" } });
    await settle();
    assert.deepEqual(second.got.at(-1), { jsonrpc: "2.0", id: 1, method: "tools/list" });
    assert.equal(r.seen.some((m) => m.id === REPLAY_ID), false);
  });

  test("unanswered requests get -32603 exactly once when the primary goes; answered ones are not answered again", async () => {
    const r = rig();
    await settle();
    await handshake(r);
    const p = r.primaries[0]!;
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow" } });
    r.send({ jsonrpc: "2.0", id: "two", method: "tools/call", params: { name: "slow" } });
    r.send({ jsonrpc: "2.0", id: 3, method: "tools/list" });
    r.send({ jsonrpc: "2.0", method: "notifications/progress", params: {} });
    await settle();
    p.send({ jsonrpc: "2.0", id: 3, result: { tools: [] } });
    await settle();
    p.kill();
    await settle();
    const after = r.seen.slice(1);
    assert.deepEqual(after[0], { jsonrpc: "2.0", id: 3, result: { tools: [] } });
    const errors = after.slice(1);
    assert.deepEqual(errors.map((m) => m.id).sort(), [1, "two"].sort());
    for (const e of errors) assert.equal((e.error as { code: number }).code, PRIMARY_LOST);
    // Nothing more arrives later (e.g. from a second close event or the reconnect).
    r.send({ jsonrpc: "2.0", id: 4, method: "ping" });
    await settle();
    r.primaries[1]!.send({ jsonrpc: "2.0", id: REPLAY_ID, result: INIT_RESULT });
    await settle();
    r.primaries[1]!.send({ jsonrpc: "2.0", id: 4, result: {} });
    await settle();
    assert.deepEqual(
      r.seen.slice(1).map((m) => m.id),
      [3, ...errors.map((m) => m.id), 4],
    );
  });

  test("told to move (a handover): in-flight answers arrive here, what the client sends meanwhile goes to the next primary, no error", async () => {
    const r = rig();
    await settle();
    await handshake(r);
    const p = r.primaries[0]!;
    // The old primary closes its side once the bridge has ended its own, as a session's socket does.
    p.fromBridge.on("end", () => p.toBridge.end());
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow" } });
    await settle();
    p.send({ jsonrpc: "2.0", method: MOVE_NOTICE });
    await settle();
    r.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "next" } });
    await settle();
    assert.deepEqual(p.got.map((m) => m.id ?? m.method), [0, "notifications/initialized", 1], "nothing more reaches the old primary");
    assert.equal(r.connects, 1, "it waits for the answer before leaving");
    p.send({ jsonrpc: "2.0", id: 1, result: { content: [] } });
    await settle(20);
    assert.equal(r.connects, 2);
    const next = r.primaries[1]!;
    assert.equal(next.got[0]!.id, REPLAY_ID);
    next.send({ jsonrpc: "2.0", id: REPLAY_ID, result: INIT_RESULT });
    await settle();
    assert.equal(next.got.at(-1)!.id, 2, "the held request goes to the next primary");
    next.send({ jsonrpc: "2.0", id: 2, result: { content: [] } });
    await settle();
    assert.deepEqual(r.seen.slice(1), [{ jsonrpc: "2.0", id: 1, result: { content: [] } }, { jsonrpc: "2.0", id: 2, result: { content: [] } }], "both answered once, no error, no notice");
  });

  test("while moving, the client's answer to the old primary's question and its cancellations still reach the old primary", async () => {
    const r = rig();
    await settle();
    await handshake(r);
    const p = r.primaries[0]!;
    p.fromBridge.on("end", () => p.toBridge.end());
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "asks" } });
    r.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "slow" } });
    await settle();
    p.send({ jsonrpc: "2.0", method: MOVE_NOTICE });
    p.send({ jsonrpc: "2.0", id: "q1", method: "sampling/createMessage", params: {} });
    await settle();
    r.send({ jsonrpc: "2.0", id: "q1", result: { role: "assistant", content: { type: "text", text: "yes" } } });
    r.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 2 } });
    r.send({ jsonrpc: "2.0", id: 3, method: "ping" });
    await settle();
    assert.deepEqual(p.got.slice(4).map((m) => m.id ?? m.method), ["q1", "notifications/cancelled"], "the answer and the cancellation, not the new request");
    p.send({ jsonrpc: "2.0", id: 1, result: { content: [] } });
    await settle(20);
    assert.equal(r.connects, 2, "left once call 1 was answered (call 2 was cancelled)");
  });

  test("a request the client cancelled is not answered with an error when the primary goes", async () => {
    const r = rig();
    await settle();
    await handshake(r);
    r.send({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "slow" } });
    await settle();
    // MCP: the receiver of a cancelled request sends no response, and the client has forgotten the id.
    r.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 7, reason: "user" } });
    await settle();
    r.primaries[0]!.kill();
    await settle();
    assert.deepEqual(r.seen.slice(1), [], "no response for an id the client no longer waits for");
  });

  test("connect failure answers every queued request with an error, and a later message tries again", async () => {
    let fail = true;
    const r = rig({
      next: async () => {
        if (fail) throw new Error("no gateway primary answered");
        return new FakePrimary();
      },
    });
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    r.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    r.send({ jsonrpc: "2.0", id: 2, method: "ping" });
    await settle();
    assert.deepEqual(
      r.seen.map((m) => [m.id, (m.error as { code: number }).code]),
      [
        [1, PRIMARY_LOST],
        [2, PRIMARY_LOST],
      ],
    );
    assert.match((r.seen[0]!.error as { message: string }).message, /no gateway primary answered/);
    assert.ok(r.logs.some((l) => /cannot reach the gateway primary/.test(l)));
    fail = false;
    r.send({ jsonrpc: "2.0", id: 3, method: "ping" });
    await settle();
    assert.deepEqual(r.primaries[0]!.got, [{ jsonrpc: "2.0", id: 3, method: "ping" }]);
  });

  test("a full reconnect queue refuses requests beyond it with an error instead of growing", async () => {
    const r = rig({ next: () => new Promise<FakePrimary>(() => {}), maxQueueBytes: 200 });
    const pad = "x".repeat(80);
    for (let id = 1; id <= 4; id++) r.send({ jsonrpc: "2.0", id, method: "ping", params: { pad } });
    await settle();
    // Two ~130-byte requests do not fit in 200 bytes: the second and later are refused at once.
    assert.deepEqual(r.seen.map((m) => m.id), [2, 3, 4]);
    for (const m of r.seen) assert.equal((m.error as { code: number }).code, PRIMARY_LOST);
  });

  test("a slow primary pauses the client's input; draining resumes it", async () => {
    const p = new FakePrimary({ highWaterMark: 64, read: false });
    const r = rig({ next: () => p });
    await settle();
    // Past the connection's own buffer (16 KiB) and the primary's.
    r.send({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(40_000) } });
    await settle();
    assert.equal(r.input.isPaused(), true, "client input paused while the primary does not read");
    collect(p.fromBridge, p.got);
    await settle();
    assert.equal(r.input.isPaused(), false, "resumed after drain");
    assert.equal(p.got.length, 1);
  });

  test("a client that does not read pauses the primary's side; draining resumes it", async () => {
    const output = new PassThrough({ highWaterMark: 64 });
    const r = rig({ output, readOutput: false });
    await settle();
    const p = r.primaries[0]!;
    p.send({ jsonrpc: "2.0", method: "notifications/message", params: { data: "x".repeat(200) } });
    await settle();
    assert.equal(p.side.isPaused(), true, "primary side paused while the client does not read");
    collect(output, r.seen);
    await settle();
    assert.equal(p.side.isPaused(), false);
    assert.equal(r.seen.length, 1);
  });

  test("many lines against a slow primary raise no listener-leak warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const p = new FakePrimary({ highWaterMark: 16, read: false });
      const r = rig({ next: () => p });
      await settle();
      // One chunk of many lines, as a client writing fast delivers them.
      const pad = "x".repeat(2000);
      const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ jsonrpc: "2.0", id: i + 1, method: "ping", params: { pad } }) + "\n").join("");
      r.input.write(lines);
      await settle();
      assert.equal(r.input.isPaused(), true, "the primary's buffers are full");
      collect(p.fromBridge, p.got);
      await settle(20);
      assert.equal(p.got.length, 30);
      assert.equal(r.input.isPaused(), false);
    } finally {
      process.off("warning", onWarning);
    }
    assert.deepEqual(warnings.map((w) => w.name), []);
  });

  test("EOF with a request in flight: its answer still reaches the client, then the run ends", async () => {
    const r = rig();
    await settle();
    await handshake(r);
    const p = r.primaries[0]!;
    let finished = false;
    void r.done.then(() => (finished = true));
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow" } });
    r.input.end();
    await settle();
    assert.equal(finished, false, "still waiting for the answer");
    assert.deepEqual(p.got.at(-1), { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow" } });
    p.send({ jsonrpc: "2.0", id: 1, result: { content: [] } });
    await r.done;
    assert.deepEqual(r.seen.at(-1), { jsonrpc: "2.0", id: 1, result: { content: [] } });
    await settle();
    assert.equal(p.fromBridge.readableEnded, true, "the session is closed once answered");
  });

  test("EOF before the primary is reached: what the client sent is delivered and answered", async () => {
    let release!: (p: FakePrimary) => void;
    const r = rig({ next: () => new Promise<FakePrimary>((res) => (release = res)) });
    r.send(INIT);
    r.send(INITIALIZED);
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    r.input.end();
    await settle();
    const p = new FakePrimary();
    release(p);
    await settle();
    assert.deepEqual(p.got.map((m) => m.id ?? m.method), [0, "notifications/initialized", 1]);
    p.send({ jsonrpc: "2.0", id: 0, result: INIT_RESULT });
    p.send({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    await r.done;
    assert.deepEqual(r.seen.map((m) => m.id), [0, 1]);
  });

  test("EOF, then the primary dies: the request gets its error and the run ends, with no reconnect", async () => {
    const r = rig();
    await settle();
    await handshake(r);
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow" } });
    r.input.end();
    await settle();
    r.primaries[0]!.kill();
    await r.done;
    assert.equal((r.seen.at(-1)!.error as { code: number }).code, PRIMARY_LOST);
    assert.equal(r.seen.at(-1)!.id, 1);
    assert.equal(r.connects, 1);
  });

  test("the client closing stdin ends the run and the primary connection; no reconnect afterwards", async () => {
    const r = rig();
    await settle();
    const p = r.primaries[0]!;
    let finished = false;
    p.fromBridge.on("end", () => (finished = true));
    r.input.end();
    await r.done;
    await settle();
    assert.equal(finished, true, "the primary sees the session end");
    p.kill();
    await settle();
    assert.equal(r.connects, 1);
    assert.deepEqual(r.seen, []);
  });
});

describe("Bridge: the client's protocol era", () => {
  const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
  const DISCOVER = { jsonrpc: "2.0", id: "d", method: "server/discover", params: { _meta: META } };
  const LISTEN = { jsonrpc: "2.0", id: "l", method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: META } };

  test("initialize makes a client legacy; server/discover or a request with the 2026-07-28 _meta makes it modern", async () => {
    const legacy = rig();
    await settle();
    assert.equal(legacy.bridge.era, "unknown");
    await handshake(legacy);
    assert.equal(legacy.bridge.era, "legacy");

    const probing = rig();
    probing.send(DISCOVER);
    await settle();
    assert.equal(probing.bridge.era, "modern");

    const direct = rig();
    direct.send({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: META } });
    await settle();
    assert.equal(direct.bridge.era, "modern");
    probing.primaries[0]!.send({ jsonrpc: "2.0", id: "d", result: { supportedVersions: ["2026-07-28"], capabilities: {} } });
    direct.primaries[0]!.send({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    for (const r of [legacy, probing, direct]) r.input.end();
    await Promise.all([legacy, probing, direct].map((r) => r.done));
  });

  test("a modern client is not replayed any handshake: its next request goes to the new primary as it is", async () => {
    const r = rig();
    r.send(DISCOVER);
    await settle();
    r.primaries[0]!.send({ jsonrpc: "2.0", id: "d", result: { supportedVersions: ["2026-07-28"], capabilities: {} } });
    const list = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: META } };
    r.send(list);
    await settle();
    r.primaries[0]!.send({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    await settle();
    r.primaries[0]!.kill();
    await settle();
    const call = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: {}, _meta: META } };
    r.send(call);
    await settle();
    assert.deepEqual(r.primaries[1]!.got, [call], "no initialize, no replay id: only the client's own request");
    r.primaries[1]!.send({ jsonrpc: "2.0", id: 2, result: { content: [] } });
    await settle();
    assert.deepEqual(r.seen.map((m) => m.id), ["d", 1, 2]);
    r.input.end();
    await r.done;
  });

  test("a probe followed by initialize (no shared version) is a legacy client, replayed as one", async () => {
    const r = rig();
    r.send(DISCOVER);
    await settle();
    r.primaries[0]!.send({ jsonrpc: "2.0", id: "d", result: { supportedVersions: ["2099-01-01"], capabilities: {} } });
    await handshake(r);
    assert.equal(r.bridge.era, "legacy");
    r.primaries[0]!.kill();
    await settle();
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    await settle();
    assert.deepEqual(r.primaries[1]!.got, [{ ...INIT, id: REPLAY_ID }]);
    r.input.end();
    r.primaries[1]!.send({ jsonrpc: "2.0", id: REPLAY_ID, result: INIT_RESULT });
    await settle();
    r.primaries[1]!.send({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    await r.done;
  });

  test("after a probe, a modern request pins the era: a later initialize neither makes the client legacy nor is replayed", async () => {
    // The bridge reads a message's params only while the era can still change: the modern request here
    // comes after the probe made the era modern, and its _meta must still be read.
    const r = rig();
    r.send(DISCOVER);
    await settle();
    r.primaries[0]!.send({ jsonrpc: "2.0", id: "d", result: { supportedVersions: ["2026-07-28"], capabilities: {} } });
    r.send({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: META } });
    await settle();
    r.primaries[0]!.send({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    r.send(INIT);
    await settle();
    assert.equal(r.bridge.era, "modern");
    r.primaries[0]!.send({ jsonrpc: "2.0", id: 0, error: { code: -32600, message: "modern session" } });
    await settle();
    r.primaries[0]!.kill();
    await settle();
    const call = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: {}, _meta: META } };
    r.send(call);
    await settle();
    assert.deepEqual(r.primaries[1]!.got, [call], "no initialize replayed");
    r.primaries[1]!.send({ jsonrpc: "2.0", id: 2, result: { content: [] } });
    r.input.end();
    await r.done;
  });

  test("an open subscriptions/listen is sent to the next primary at once, not answered with an error; a call in flight is", async () => {
    const r = rig();
    r.send(LISTEN);
    r.send({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "slow", _meta: META } });
    await settle();
    const first = r.primaries[0]!;
    first.send({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { requestId: "l" } });
    await settle();
    first.kill();
    await settle();
    assert.equal(r.connects, 2, "the listen reconnects without waiting for the client to speak");
    assert.deepEqual(r.primaries[1]!.got, [LISTEN]);
    const errors = r.seen.filter((m) => "error" in m);
    assert.deepEqual(errors.map((m) => m.id), [5], "only the call gets the lost-primary error");
    // The new primary's notifications reach the client on the same listen id.
    r.primaries[1]!.send({ jsonrpc: "2.0", method: "notifications/tools/list_changed", params: { _meta: { "io.modelcontextprotocol/subscriptionId": "l" } } });
    await settle();
    assert.equal(r.seen.at(-1)?.method, "notifications/tools/list_changed");
    r.input.end();
    r.primaries[1]!.send({ jsonrpc: "2.0", id: "l", result: {} });
    await r.done;
  });

  test("a listen the primary ended or the client cancelled is not re-sent", async () => {
    const r = rig();
    r.send(LISTEN);
    r.send({ ...LISTEN, id: "l2" });
    await settle();
    r.primaries[0]!.send({ jsonrpc: "2.0", id: "l", result: {} });
    r.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "l2" } });
    await settle();
    r.primaries[0]!.kill();
    await settle();
    assert.equal(r.connects, 1, "nothing open: no reconnect until the client speaks");
    r.input.end();
    await r.done;
  });

  test("EOF with a listen open ends the run: a listen never holds the bridge open", async () => {
    const r = rig();
    r.send(LISTEN);
    await settle();
    r.input.end();
    await r.done;
    r.primaries[0]!.kill();
    await settle();
    assert.equal(r.connects, 1);
    assert.deepEqual(r.seen, []);
  });
});
