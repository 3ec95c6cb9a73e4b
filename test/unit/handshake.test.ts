// The handshake proves the token both ways without sending it: a client talks only to a primary that
// holds the token, and a primary serves only clients that do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceptHello, newToken, sendHello } from "../../src/coordination/handshake.js";

/** A listening socket in a temp dir and a connected client socket to it. */
async function pair(onServer: (s: Socket) => void): Promise<{ client: Socket; close: () => void }> {
  const path = join(mkdtempSync(join(tmpdir(), "cmg-hs-")), "s.sock");
  const server = createServer(onServer);
  await new Promise<void>((r) => server.listen(path, r));
  const client = connect(path);
  await new Promise((r) => client.once("connect", r));
  return { client, close: () => server.close() };
}

test("the same token on both sides: the primary learns the kind, the client gets the welcome", async () => {
  const token = newToken();
  let kind: Promise<{ kind: string }> | undefined;
  const { client, close } = await pair((s) => {
    kind = acceptHello(s, token, { ok: true, pid: 42, instance_id: "i" });
  });
  const welcome = await sendHello(client, token, "control");
  assert.deepEqual(welcome, { ok: true, pid: 42, instance_id: "i" });
  assert.deepEqual(await kind, { kind: "control" });
  client.destroy();
  close();
});

test("a client with the wrong token is refused, and learns nothing but the challenge", async () => {
  let refused: Promise<unknown> | undefined;
  const { client, close } = await pair((s) => {
    refused = acceptHello(s, newToken(), { ok: true, pid: 1, instance_id: "i" }).then(
      () => "accepted",
      (err: Error) => err.message,
    );
  });
  // The client checks the primary's proof first: with another token it is the primary that fails it.
  await assert.rejects(sendHello(client, newToken(), "session"), /could not prove it holds the token/);
  assert.match(String(await refused), /connection refused/);
  close();
});

test("an impostor on the endpoint never gets the token nor the client's proof", async () => {
  const token = newToken();
  const heard: string[] = [];
  const { client, close } = await pair((s) => {
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      heard.push(...d.trim().split("\n"));
      // Pretends to be a primary: answers with a made-up proof.
      if (heard.length === 1) s.write(JSON.stringify({ nonce: "cd".repeat(16), proof: "00".repeat(32) }) + "\n");
    });
  });
  await assert.rejects(sendHello(client, token, "session"), /could not prove it holds the token/);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(heard.length, 1, `the impostor heard: ${heard.join(" | ")}`);
  assert.ok(!heard[0]!.includes(token));
  assert.deepEqual(Object.keys(JSON.parse(heard[0]!) as object).sort(), ["claude_mpm_gateway", "kind", "nonce"]);
  close();
});

test("a session's hello carries its client's view; the welcome can warn about it", async () => {
  const token = newToken();
  let hello: Promise<unknown> | undefined;
  const { client, close } = await pair((s) => {
    hello = acceptHello(s, token, (h) => ({ ok: true, pid: 7, instance_id: "i", ...(h.profile === "nope" ? { warning: `unknown profile "${h.profile}"` } : {}) }));
  });
  const welcome = await sendHello(client, token, "session", undefined, { profile: "nope", maxNameLength: 41, binding: "bridge-0123456789abcdef" });
  assert.deepEqual(welcome, { ok: true, pid: 7, instance_id: "i", warning: 'unknown profile "nope"' });
  assert.deepEqual(await hello, { kind: "session", profile: "nope", maxNameLength: 41, binding: "bridge-0123456789abcdef" });
  client.destroy();
  close();
});

for (const [what, bad] of [
  ["profile", { profile: 42 }],
  ["session id", { session_id: "short" }],
  ["session id", { session_id: "has spaces in it, not an id" }],
] as const) {
  test(`a hello whose ${what} is malformed is refused`, async () => {
    const token = newToken();
    let refused: Promise<unknown> | undefined;
    const { client, close } = await pair((s) => {
      refused = acceptHello(s, token, { ok: true, pid: 1, instance_id: "i" }).catch((err: Error) => err.message);
    });
    client.write(JSON.stringify({ claude_mpm_gateway: 2, kind: "session", nonce: "ab".repeat(16), ...bad }) + "\n");
    assert.match(String(await refused), /not a gateway hello/);
    client.destroy();
    close();
  });
}
