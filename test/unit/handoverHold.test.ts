// The next primary holds connections the old one passes on before it serves (handoverLink.ts holdUnserved):
// one whose client gives up meanwhile leaves, one that stays is served with every byte it sent.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { holdUnserved, type HeldConnection } from "../../src/gateway/handoverLink.js";

let dir: string;
let server: Server;
const accepted: Socket[] = [];
/** Every socket a test made, ended at the end whatever happened. */
const made: Socket[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cmg-hold-"));
  server = createServer((s) => {
    accepted.push(s);
  });
  await new Promise<void>((r) => server.listen(join(dir, "s.sock"), r));
});
after(() => {
  for (const s of made) s.destroy();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const until = async (what: string, check: () => boolean) => {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), what);
};

/** A client and the server's end of its connection. */
async function pair(): Promise<{ client: Socket; peer: Socket }> {
  const client = connect(join(dir, "s.sock"));
  made.push(client);
  await until("accepted", () => accepted.length > 0);
  const peer = accepted.shift()!;
  made.push(peer);
  return { client, peer };
}

test("a held connection whose client gives up leaves, and is not served", async () => {
  const { client, peer } = await pair();
  let left: HeldConnection | undefined;
  const held = holdUnserved(peer, (h) => (left = h));
  client.end("a hello that no one will answer\n");
  await until("it left", () => left === held);
  assert.equal(held.release(), undefined);
  assert.ok(peer.destroyed);
});

test("a held connection that closes without a byte leaves too", async () => {
  const { client, peer } = await pair();
  let left = false;
  const held = holdUnserved(peer, () => (left = true));
  client.destroy();
  await until("it left", () => left);
  assert.equal(held.release(), undefined);
});

test("a held connection that stays is served with every byte, in order, and can be answered", async () => {
  const { client, peer } = await pair();
  let left = false;
  const held = holdUnserved(peer, () => (left = true));
  client.write("first line\n");
  // Read while held: what it sent is taken off the socket (and kept).
  await until("the first line read", () => peer.bytesRead === "first line\n".length);
  const served = held.release();
  assert.equal(served, peer);
  let got = "";
  served!.setEncoding("utf8");
  served!.on("data", (d: string) => (got += d));
  client.write("second line\n");
  await until("both lines served", () => got === "first line\nsecond line\n");
  let answer = "";
  client.on("data", (d) => (answer += String(d)));
  served!.write("welcome\n");
  await until("the client answered", () => answer === "welcome\n");
  assert.equal(left, false);
  client.destroy();
  served!.destroy();
});

test("a held connection that sent nothing yet is served as it is", async () => {
  const { client, peer } = await pair();
  const held = holdUnserved(peer, () => assert.fail("it did not leave"));
  const served = held.release()!;
  let got = "";
  served.on("data", (d) => (got += String(d)));
  client.write("late hello\n");
  await until("the hello served", () => got === "late hello\n");
  client.destroy();
  served.destroy();
});
