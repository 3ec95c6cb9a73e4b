// A bridge's session in the primary serves plain legacy tools/call in its fast lane (src/gateway/lane.ts),
// without the SDK's per-request protocol work; --standalone serves every call through the SDK. The same
// calls through both must bring the client the same messages, equal as JSON: results of every shape,
// errors, progress, server requests during a call, cancellation, and requests the lane must leave alone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { expectNoProcessLeft, installBinary, stopGateway, tempHome, waitFor, type Install } from "./harness.js";
import { RawSession } from "./rawSession.js";
import { SERVERS, writeConfig } from "./downstreamKit.js";

type Msg = Record<string, unknown>;

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

/** Everything the client reads up to the answer to `id`, server requests answered by `answer`; their own ids left out (each side numbers its own). */
async function exchange(s: RawSession, message: Msg, answer: (m: Msg) => unknown = () => undefined): Promise<Msg[]> {
  s.send(message);
  const seen: Msg[] = [];
  for (;;) {
    const m = await s.next(30_000);
    if (m.method !== undefined && m.id !== undefined) {
      const { id, ...rest } = m;
      seen.push(rest);
      s.send({ jsonrpc: "2.0", id, result: answer(m) });
      continue;
    }
    seen.push(m);
    if (m.id === message.id && m.method === undefined) return seen;
  }
}

const call = (id: number | string, name: string, args?: unknown, extra: Msg = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, ...(args !== undefined ? { arguments: args } : {}), ...extra },
});

async function open(args: string[]): Promise<{ s: RawSession; home: string }> {
  const home = tempHome();
  writeConfig(home, {
    everything: SERVERS.everything(),
    legacy: { command: process.execPath, args: [resolve("test", "fixtures", "legacy-server.mjs")], env: { LEGACY_STATE: home } },
  });
  const s = new RawSession(install, home, args);
  s.send({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: { elicitation: {}, sampling: {} }, clientInfo: { name: "lane", version: "1" } } });
  await s.next();
  s.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  await waitFor("both servers' tools", async () => {
    const list = await s.request(`l${Date.now()}`, "tools/list");
    const names = ((list.result as { tools: Array<{ name: string }> }).tools ?? []).map((t) => t.name);
    return names.includes("everything__echo") && names.includes("legacy__elicit");
  }, 30_000);
  return { s, home };
}

test("calls through a bridge's fast lane bring the client what --standalone's SDK path brings", async () => {
  const bridge = await open([]);
  const standalone = await open(["--standalone"]);
  try {
    const steps: Array<[string, Msg, ((m: Msg) => unknown)?]> = [
      ["a downstream text result", call(1, "everything__echo", { message: "hi \"there\" \u2603" })],
      ["a string id", call("s-1", "everything__echo", { message: "x" })],
      ["a built-in", call(2, "calculator", { expression: "2*(3+4)" })],
      ["a built-in's invalid arguments", call(3, "calculator", { expression: 5 })],
      ["an image result", call(4, "everything__get-tiny-image", {})],
      ["structured content", call(5, "everything__get-structured-content", { location: "Chicago" })],
      ["annotated content", call(6, "everything__get-annotated-message", { messageType: "error", includeImage: true })],
      ["resource links", call(7, "everything__get-resource-links", { count: 2 })],
      ["a server's own error", call(8, "legacy__nope", {})],
      ["a -32042 error", call(9, "legacy__url_needed", {})],
      ["the retry after it", call(10, "legacy__url_needed", {})],
      ["an unknown tool", call(11, "nothere__tool", {})],
      ["no arguments", call(12, "everything__echo")],
      ["arguments the server refuses", call(13, "everything__echo", { message: 42 })],
      ["progress to the client's token", call(14, "everything__trigger-long-running-operation", { duration: 0.3, steps: 3 }, { _meta: { progressToken: "p14" } })],
      ["progress with no token", call(15, "everything__trigger-long-running-operation", { duration: 0.3, steps: 3 })],
      ["an elicitation during the call", call(16, "legacy__elicit", {}), () => ({ action: "accept", content: { name: "Ada" } })],
      ["sampling during the call", call(17, "legacy__sample", { prompt: "hello" }), () => ({ role: "assistant", content: { type: "text", text: "hi" }, model: "m" })],
      ["params the lane leaves alone", call(18, "everything__echo", { message: "y" }, { _meta: { progressToken: 1, other: true } })],
      ["arguments that are not an object", call(19, "everything__echo", ["m"])],
      ["a name that is not a string", { jsonrpc: "2.0", id: 20, method: "tools/call", params: { name: 7 } }],
    ];
    for (const [what, message, answer] of steps) {
      const [viaLane, viaSdk] = [await exchange(bridge.s, message, answer), await exchange(standalone.s, message, answer)];
      assert.deepEqual(viaLane, viaSdk, what);
    }

    // A cancelled call is never answered; the next call is (the same in both).
    for (const { s } of [bridge, standalone]) {
      s.send(call(30, "everything__trigger-long-running-operation", { duration: 2, steps: 2 }));
      s.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 30, reason: "changed my mind" } });
      const next = await exchange(s, call(31, "everything__echo", { message: "after" }));
      assert.deepEqual(next, [{ jsonrpc: "2.0", id: 31, result: { content: [{ type: "text", text: "Echo: after" }] } }]);
      // The cancelled call's time passes with no answer to it (a progress-less call sends nothing else).
      const later = await exchange(s, call(32, "everything__trigger-long-running-operation", { duration: 2.5, steps: 1 }));
      assert.ok(later.every((m) => m.id !== 30), JSON.stringify(later));
    }
  } finally {
    for (const { s } of [bridge, standalone]) {
      s.end();
      await s.exited;
    }
    stopGateway(install, bridge.home);
    await expectNoProcessLeft(install.bin);
  }
});
