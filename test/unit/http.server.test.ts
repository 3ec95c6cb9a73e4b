// The HTTP listener around the MCP handler: routes, refusals, the non-loopback rule and the drain on close.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { INSTANCE_HEADER, listenHttp, type McpRequestHandler } from "../../src/http/server.js";
import { isGatewayError } from "../../src/errors.js";

const TOKEN = "unit-test-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

/** A stand-in MCP handler: answers after `delayMs`; a GET is a stream that never ends by itself. */
function slowHandler(delayMs: number, seen: string[] = []): McpRequestHandler {
  return async (req, res) => {
    seen.push(req.method ?? "");
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": open\n\n");
      return;
    }
    // Cut short when the connection goes (a drain past its deadline), so no timer outlives the test.
    await new Promise<void>((r) => {
      const timer = setTimeout(r, delayMs);
      res.once("close", () => (clearTimeout(timer), r()));
    });
    if (res.destroyed) return;
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"done":true}');
  };
}

describe("listenHttp", () => {
  test("/mcp behind the guard; /healthz open; other paths 404; an instance header on every answer", async () => {
    const seen: string[] = [];
    const ep = await listenHttp({ host: "127.0.0.1", port: 0, tokens: [TOKEN], handle: slowHandler(0, seen) });
    try {
      assert.match(ep.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      const base = ep.url.replace(/\/mcp$/, "");
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });
      assert.equal(health.headers.get(INSTANCE_HEADER), ep.instance);

      assert.equal((await fetch(`${base}/other`, { headers: auth })).status, 404);
      const none = await fetch(ep.url, { method: "POST", body: "{}" });
      assert.equal(none.status, 401);
      assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="claude-mpm-gateway"');
      assert.equal(((await none.json()) as { error: { message: string } }).error.message, "Unauthorized: a bearer token is required");
      assert.equal((await fetch(ep.url, { method: "POST", body: "{}", headers: { authorization: "Bearer wrong-token-000000000" } })).status, 401);
      assert.equal((await fetch(ep.url, { method: "POST", body: "{}", headers: { ...auth, origin: "https://evil.example" } })).status, 403);
      assert.deepEqual(seen, [], "nothing refused reached the handler");

      const ok = await fetch(ep.url, { method: "POST", body: "{}", headers: auth });
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { done: true });
      assert.deepEqual(seen, ["POST"]);
    } finally {
      await ep.close();
    }
  });

  test("beyond loopback without a token: refused before listening", async () => {
    await assert.rejects(
      listenHttp({ host: "0.0.0.0", port: 0, tokens: [], handle: slowHandler(0) }),
      (e) => isGatewayError(e, "USAGE") && /refusing to listen on 0\.0\.0\.0 without a bearer token/.test(e.message),
    );
    const ep = await listenHttp({ host: "0.0.0.0", port: 0, tokens: [TOKEN], handle: slowHandler(0) });
    await ep.close();
  });

  test("a port in use is a clear error", async () => {
    const a = await listenHttp({ host: "127.0.0.1", port: 0, tokens: [], handle: slowHandler(0) });
    try {
      await assert.rejects(listenHttp({ host: "127.0.0.1", port: a.port, tokens: [], handle: slowHandler(0) }), /the port is in use/);
    } finally {
      await a.close();
    }
  });

  test("close drains: a request in flight gets its answer, a stream is ended, new connections are refused; twice is safe", async () => {
    const seen: string[] = [];
    const ep = await listenHttp({ host: "127.0.0.1", port: 0, tokens: [TOKEN], handle: slowHandler(400, seen) });
    const stream = await fetch(ep.url, { headers: auth });
    const streamText = stream.text();
    const inFlight = fetch(ep.url, { method: "POST", body: "{}", headers: auth });
    // Closed only once the POST is in the handler (a fixed 100 ms was not always enough at load ~10).
    for (const deadline = Date.now() + 10_000; !seen.includes("POST"); ) {
      assert.ok(Date.now() < deadline, "the POST never reached the handler");
      await new Promise((r) => setTimeout(r, 10));
    }
    const closed = ep.close(30_000);
    const answer = await inFlight;
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { done: true });
    assert.equal(await streamText, ": open\n\n");
    await closed;
    await ep.close();
    await assert.rejects(fetch(ep.url, { method: "POST", body: "{}", headers: auth }));
  });

  test("the drain is bounded: a request that never ends is cut at the deadline", async () => {
    const ep = await listenHttp({ host: "127.0.0.1", port: 0, tokens: [], handle: slowHandler(60_000) });
    const stuck = fetch(ep.url, { method: "POST", body: "{}" }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 100));
    await ep.close(200);
    assert.ok((await stuck) instanceof Error);
  });
});
