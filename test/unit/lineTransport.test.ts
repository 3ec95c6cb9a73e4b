// LineTransport: what a session (endpoint or --standalone stdio) answers before a frame reaches the MCP server.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { LineTransport, type LineTransportOptions } from "../../src/transport/lineTransport.js";

interface Rig {
  transport: LineTransport;
  input: PassThrough;
  output: PassThrough;
  /** Messages the transport delivered to the server. */
  received: JSONRPCMessage[];
  /** JSON lines the transport wrote back to the peer. */
  written: Array<Record<string, unknown>>;
  warnings: string[];
  closes: number;
  /** Lets pending stream events run. */
  settle(): Promise<void>;
}

async function rig(options: Partial<LineTransportOptions> = {}, readOutput = true): Promise<Rig> {
  const input = new PassThrough();
  const output = new PassThrough();
  const warnings: string[] = [];
  const transport = new LineTransport({ input, output, onWarning: (m) => warnings.push(m), ...options });
  const r: Rig = {
    transport,
    input,
    output,
    received: [],
    written: [],
    warnings,
    closes: 0,
    settle: () => new Promise((res) => setImmediate(res)),
  };
  transport.onmessage = (m) => r.received.push(m);
  transport.onclose = () => r.closes++;
  if (readOutput) {
    let buf = "";
    output.setEncoding("utf8");
    output.on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) !== -1) {
        r.written.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
    });
  }
  await transport.start();
  return r;
}

const errorOf = (m: Record<string, unknown> | undefined) => (m?.error as { code: number; message: string } | undefined);

describe("LineTransport", () => {
  test("settleBetweenMessages: work a message starts in microtasks is done before the next message of the same read", async () => {
    const read = '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n{"jsonrpc":"2.0","id":1,"result":{}}\n';
    for (const settle of [false, true]) {
      const r = await rig({ settleBetweenMessages: settle });
      // As the SDK does: a notification's handler runs a microtask later, a response is handled at once.
      const order: string[] = [];
      r.transport.onmessage = (m) => {
        if ("method" in m) void Promise.resolve().then(() => order.push("progress handled"));
        else order.push("response handled");
      };
      r.input.write(read);
      await r.settle();
      await r.settle();
      assert.deepEqual(order, settle ? ["progress handled", "response handled"] : ["response handled", "progress handled"]);
      await r.transport.close();
    }
  });

  test("settleBetweenMessages: each read's first message is handed over at once, the rest of a read one per turn, in order", async () => {
    const line = (id: number) => `{"jsonrpc":"2.0","id":${id},"result":{}}\n`;
    const r = await rig({ settleBetweenMessages: true });
    const ids = () => r.received.map((m) => (m as { id: number }).id);
    // Reads of one message each (the usual answer): none waits for a turn, even right after another read.
    r.transport["read"](Buffer.from(line(1)));
    r.transport["read"](Buffer.from(line(2)));
    assert.deepEqual(ids(), [1, 2]);
    // One read of three: the first at once, then one per turn; a read meanwhile waits behind them.
    r.transport["read"](Buffer.from(line(3) + line(4) + line(5)));
    assert.deepEqual(ids(), [1, 2, 3]);
    r.transport["read"](Buffer.from(line(6)));
    assert.deepEqual(ids(), [1, 2, 3]);
    await r.settle();
    assert.deepEqual(ids(), [1, 2, 3, 4]);
    for (let i = 0; i < 3; i++) await r.settle();
    assert.deepEqual(ids(), [1, 2, 3, 4, 5, 6]);
    // Drained: the next read's message goes at once again.
    r.transport["read"](Buffer.from(line(7)));
    assert.deepEqual(ids(), [1, 2, 3, 4, 5, 6, 7]);
    await r.transport.close();
  });

  test("a valid request and notification reach the server; send() writes one line each", async () => {
    const r = await rig();
    r.input.write('{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    await r.settle();
    assert.deepEqual(r.received, [
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      { jsonrpc: "2.0", method: "notifications/initialized" },
    ]);
    await r.transport.send({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    await r.settle();
    assert.deepEqual(r.written, [{ jsonrpc: "2.0", id: 1, result: { tools: [] } }]);
  });

  test("a parse error is answered with -32700 and id null, and the next line is still served", async () => {
    const r = await rig();
    r.input.write('{"jsonrpc":"2.0","id":1,\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
    await r.settle();
    assert.equal(r.written.length, 1);
    assert.equal(r.written[0]!.id, null);
    assert.equal(errorOf(r.written[0])?.code, -32700);
    assert.deepEqual(r.received, [{ jsonrpc: "2.0", id: 2, method: "ping" }]);
  });

  test("a batch is refused with -32600 and id null, none of its requests served", async () => {
    const r = await rig();
    r.input.write('[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]\n');
    await r.settle();
    assert.deepEqual(r.received, []);
    assert.equal(r.written.length, 1);
    assert.equal(r.written[0]!.id, null);
    assert.equal(errorOf(r.written[0])?.code, -32600);
    assert.match(errorOf(r.written[0])!.message, /batch/);
  });

  test("an invalid message carrying an id is answered with that id; without a readable id, with null", async () => {
    const r = await rig();
    r.input.write('{"jsonrpc":"1.0","id":"abc","method":"ping"}\n');
    r.input.write('{"jsonrpc":"2.0","id":7}\n');
    r.input.write('{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}\n');
    r.input.write("42\n");
    await r.settle();
    assert.deepEqual(r.received, []);
    assert.deepEqual(
      r.written.map((m) => [m.id, errorOf(m)?.code]),
      [
        ["abc", -32600],
        [7, -32600],
        [null, -32600],
        [null, -32600],
      ],
    );
  });

  test("an oversize line is refused with -32700 once, and later lines are parsed", async () => {
    const r = await rig({ maxLineBytes: 64 });
    r.input.write('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"');
    r.input.write("x".repeat(200));
    r.input.write('"}}\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
    await r.settle();
    assert.equal(r.written.length, 1);
    assert.equal(r.written[0]!.id, null);
    assert.equal(errorOf(r.written[0])?.code, -32700);
    assert.match(errorOf(r.written[0])!.message, /exceeds 64 bytes/);
    assert.deepEqual(r.received, [{ jsonrpc: "2.0", id: 2, method: "ping" }]);
  });

  test("CRLF line ends and messages split across chunks are accepted", async () => {
    const r = await rig();
    const wire = '{"jsonrpc":"2.0","id":1,"method":"ping"}\r\n{"jsonrpc":"2.0","id":2,"method":"ping"}\r\n';
    for (const part of [wire.slice(0, 5), wire.slice(5, 41), wire.slice(41, 42), wire.slice(42, 60), wire.slice(60)]) {
      r.input.write(part);
      await r.settle();
    }
    assert.deepEqual(r.written, []);
    assert.deepEqual(r.received, [
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { jsonrpc: "2.0", id: 2, method: "ping" },
    ]);
  });

  test("invalid UTF-8 is a parse error (-32700), not a mangled message", async () => {
    const r = await rig();
    const bad = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}\n')]);
    r.input.write(bad);
    // An overlong encoding of "/" is invalid UTF-8 too.
    r.input.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":2,"method":"ping","params":{"s":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}\n')]));
    await r.settle();
    assert.deepEqual(r.received, []);
    assert.deepEqual(
      r.written.map((m) => [m.id, errorOf(m)?.code]),
      [
        [null, -32700],
        [null, -32700],
      ],
    );
    assert.match(errorOf(r.written[0])!.message, /UTF-8/);
  });

  test("close() twice calls onclose once and ends the output when asked", async () => {
    const r = await rig({ endOutput: true });
    let ended = false;
    r.output.on("end", () => (ended = true));
    await r.transport.close();
    await r.transport.close();
    await r.settle();
    assert.equal(r.closes, 1);
    assert.equal(r.transport.isClosed, true);
    assert.equal(ended, true);
    // After close nothing is served or written.
    r.input.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    await r.transport.send({ jsonrpc: "2.0", id: 9, result: {} });
    await r.settle();
    assert.deepEqual(r.received, []);
    assert.deepEqual(r.written, []);
  });

  test("stdout is not ended on close unless asked (process stdout must stay open)", async () => {
    const r = await rig();
    await r.transport.close();
    assert.equal(r.output.writableEnded, false);
  });

  test("the peer's end of input closes the transport once, even with a later close()", async () => {
    const r = await rig();
    r.input.end();
    await r.settle();
    await r.settle();
    assert.equal(r.closes, 1);
    await r.transport.close();
    assert.equal(r.closes, 1);
  });

  test("a peer that stops reading is dropped when the output queue passes its limit", async () => {
    const r = await rig({ maxQueueBytes: 4096, endOutput: true }, false);
    const big = "x".repeat(1024);
    let sent = 0;
    while (!r.transport.isClosed && sent < 1000) {
      await r.transport.send({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: big } });
      sent++;
    }
    assert.equal(r.transport.isClosed, true, "dropped");
    assert.ok(sent < 1000, `dropped after ${sent} messages`);
    assert.equal(r.closes, 1);
    assert.ok(r.warnings.some((w) => /stopped reading/.test(w)), r.warnings.join("\n"));
    assert.equal(r.output.destroyed, true, "the socket is destroyed, its queue freed");
  });

  test("a stream error is reported through onerror and closes the session", async () => {
    const r = await rig();
    const errors: Error[] = [];
    r.transport.onerror = (e) => errors.push(e);
    r.input.destroy(new Error("EPIPE-like"));
    await r.settle();
    await r.settle();
    assert.equal(errors.length, 1);
    assert.equal(r.closes, 1);
  });
});
