// A bridge's session in the primary serves plain legacy tools/call in its fast lane (src/gateway/lane.ts),
// without the SDK's per-request protocol work, and such a call to a legacy stdio server also goes past the
// downstream SDK Client (src/downstream/callLane.ts); --standalone serves every call through the SDK on both
// sides. The same calls through both must bring the client the same messages, equal as JSON: results of every
// shape, errors, progress, server requests and log messages during a call, cancellation (which must reach the server), the
// per-call timeout, a server dying mid-call, a modern server's calls, and requests the lanes must leave alone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expectNoProcessLeft, installBinary, stopGateway, tempHome, waitFor, type Install } from "./harness.js";
import { RawSession } from "./rawSession.js";
import { SERVERS, writeConfig } from "./downstreamKit.js";

type Msg = Record<string, unknown>;

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

/** The line each message of an exchange came as (a server request's: its JSON without the id). */
const lineOf = new WeakMap<Msg, string>();

/**
 * Everything the client reads up to the answer to `id`, server requests answered by `answer`; their own ids
 * left out (each side numbers its own), and list_changed notifications (a server's tools come and go on their
 * own time, not with a call's messages) left out.
 */
async function exchange(s: RawSession, message: Msg, answer: (m: Msg) => unknown = () => undefined): Promise<Msg[]> {
  s.send(message);
  const seen: Msg[] = [];
  for (;;) {
    const line = await s.nextLine(30_000);
    const m = JSON.parse(line) as Msg;
    if (typeof m.method === "string" && m.method.endsWith("/list_changed")) continue;
    if (m.method !== undefined && m.id !== undefined) {
      const { id, ...rest } = m;
      lineOf.set(rest, JSON.stringify(rest));
      seen.push(rest);
      s.send({ jsonrpc: "2.0", id, result: answer(m) });
      continue;
    }
    lineOf.set(m, line);
    seen.push(m);
    if (m.id === message.id && m.method === undefined) return seen;
  }
}

/** The two sides read the same messages, byte for byte (member order and escapes included). */
function same(viaLane: Msg[], viaSdk: Msg[], what: string): void {
  assert.deepEqual(viaLane, viaSdk, what);
  assert.deepEqual(viaLane.map((m) => lineOf.get(m)), viaSdk.map((m) => lineOf.get(m)), `${what}: the same bytes`);
}

const call = (id: number | string, name: string, args?: unknown, extra: Msg = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, ...(args !== undefined ? { arguments: args } : {}), ...extra },
});

const fixture = (name: string) => resolve("test", "fixtures", name);

async function open(args: string[], env: Record<string, string> = {}): Promise<{ s: RawSession; home: string }> {
  const home = tempHome();
  writeConfig(home, {
    everything: SERVERS.everything(),
    legacy: { command: process.execPath, args: [fixture("legacy-server.mjs")], env: { LEGACY_STATE: home } },
    modern: { command: process.execPath, args: [fixture("modern-server.mjs")] },
  });
  const s = new RawSession(install, home, args, env);
  s.send({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: { elicitation: {}, sampling: {} }, clientInfo: { name: "lane", version: "1" } } });
  await s.next();
  s.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  await waitFor("both servers' tools", async () => {
    const list = await s.request(`l${Date.now()}`, "tools/list");
    const names = ((list.result as { tools: Array<{ name: string }> }).tools ?? []).map((t) => t.name);
    return names.includes("everything__echo") && names.includes("legacy__elicit") && names.includes("modern__caps");
  }, 30_000);
  return { s, home };
}

/** What the legacy fixture of `home` heard of cancellations: each one's reason, and whether it named a call in flight. */
const cancelledAt = (home: string): unknown[] => {
  const file = join(home, "cancelled");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as unknown) : [];
};

async function close(sessions: Array<{ s: RawSession; home: string }>): Promise<void> {
  for (const { s } of sessions) {
    s.end();
    await s.exited;
  }
  stopGateway(install, sessions[0]!.home);
  await expectNoProcessLeft(install.bin);
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
      ["a modern server's tool (the Client's path on both sides)", call(21, "modern__caps", {})],
      ["a text result with its members in another order", call(22, "legacy__unordered", {})],
      ["log messages during a call, before the client sets a level (none reach it)", call(23, "legacy__log", {})],
      ["the client's log level", { jsonrpc: "2.0", id: 24, method: "logging/setLevel", params: { level: "info" } }],
      ["log messages during a call, at the client's level (the warning reaches it)", call(25, "legacy__log", {})],
    ];
    const read = new Map<string, Msg[]>();
    for (const [what, message, answer] of steps) {
      const [viaLane, viaSdk] = [await exchange(bridge.s, message, answer), await exchange(standalone.s, message, answer)];
      same(viaLane, viaSdk, what);
      read.set(what, viaLane);
    }
    // The session's level, read when each message comes: nothing before it is set, then the warning alone.
    const logged = (what: string) => read.get(what)!.filter((m) => m.method === "notifications/message").map((m) => (m.params as { level: string }).level);
    assert.deepEqual(logged("log messages during a call, before the client sets a level (none reach it)"), []);
    assert.deepEqual(logged("log messages during a call, at the client's level (the warning reaches it)"), ["warning"]);

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

    // The client's cancellation reaches the server, naming the call it has in flight, with the client's reason.
    for (const { s, home } of [bridge, standalone]) {
      s.send(call(33, "legacy__hang", {}));
      await exchange(s, call(34, "everything__echo", { message: "hang sent" }));
      s.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 33, reason: "changed my mind" } });
      await waitFor("the server to hear the cancellation", () => cancelledAt(home).length > 0, 20_000);
    }
    assert.deepEqual(cancelledAt(bridge.home), [{ reason: "changed my mind", known: true }]);
    assert.deepEqual(cancelledAt(standalone.home), cancelledAt(bridge.home));
  } finally {
    await close([bridge, standalone]);
  }
});

test("the per-call timeout, progress that restarts its clock and a server dying mid-call: the same through the lanes as through the SDK", async () => {
  // A forwarded call may run 3 s without progress; a crashed server restarts after 200 ms.
  const env = { CLAUDE_MPM_GATEWAY_CALL_TIMEOUT_MS: "3000", CLAUDE_MPM_GATEWAY_BACKOFF_MS: "200" };
  const bridge = await open([], env);
  const standalone = await open(["--standalone"], env);
  const both = async (what: string, message: Msg) => {
    const [viaLane, viaSdk] = [await exchange(bridge.s, message), await exchange(standalone.s, message)];
    same(viaLane, viaSdk, what);
    return viaLane.at(-1)!.result as { content: Array<{ text: string }>; isError?: boolean };
  };
  try {
    const timedOut = await both("a call past the timeout", call(1, "legacy__hang", {}));
    assert.equal(timedOut.isError, true);
    assert.match(timedOut.content[0]!.text, /legacy__hang: Request timed out/);
    // The server is told, with the call's own id.
    for (const { home } of [bridge, standalone]) await waitFor("the server to hear the timeout's cancellation", () => cancelledAt(home).length > 0, 20_000);
    assert.deepEqual(cancelledAt(bridge.home), [{ reason: "SdkError: Request timed out", known: true }]);
    assert.deepEqual(cancelledAt(standalone.home), cancelledAt(bridge.home));

    // 6 s of work with progress every 0.5 s: only a clock that progress restarts lets it finish.
    const long = await both("progress restarts the clock", call(2, "everything__trigger-long-running-operation", { duration: 6, steps: 12 }));
    assert.equal(long.isError, undefined, JSON.stringify(long));

    const crashed = await both("a server that dies mid-call", call(3, "legacy__crash", {}));
    assert.equal(crashed.isError, true);
    assert.match(crashed.content[0]!.text, /legacy__crash: Connection closed/);
    for (const { s } of [bridge, standalone]) {
      await waitFor("the crashed server back", async () => {
        const r = await s.request(`w${Date.now()}`, "tools/call", { name: "legacy__url_needed", arguments: {} });
        return (r.result as { isError?: boolean } | undefined)?.isError !== true;
      }, 30_000);
      // Exactly one answer to the crashed call: nothing more for it after the server came back.
      const after = await exchange(s, call(4, "everything__echo", { message: "after" }));
      assert.ok(after.every((m) => m.id !== 3), JSON.stringify(after));
    }
  } finally {
    await close([bridge, standalone]);
  }
});
