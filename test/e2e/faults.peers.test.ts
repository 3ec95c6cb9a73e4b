// Bad peers on the primary's endpoint: a slow writer, garbage after a valid hello, a client that never
// reads. Each is closed or bounded; the primary and the other sessions are unaffected.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sendHello } from "../../src/coordination/handshake.js";
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { socketFiles, connectClient, expectNoProcessLeft, installBinary, readGatewayJson, sleep, stateFiles, stopGateway, tempHome, waitFor, type Install } from "./harness.js";

let install: Install;
let home: string;
before(async () => {
  install = installBinary();
  home = tempHome();
});
after(async () => {
  stopGateway(install, home);
  await expectNoProcessLeft(install.bin);
  install.cleanup();
});

function dial(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(socketFiles(home).endpoint);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** Resolves when the socket is closed by the other side, with what it received. */
function closed(s: Socket): Promise<string> {
  let got = "";
  s.on("data", (d) => (got += d));
  s.on("error", () => {});
  return new Promise((r) => s.once("close", () => r(got)));
}

async function healthyClient() {
  const { client } = await connectClient(install, home);
  const r = await client.callTool({ name: "echo", arguments: { message: "fine" } });
  assert.deepEqual(r.content, [{ type: "text", text: "fine" }]);
  return client;
}

test("a slow writer is cut off at the hello time limit; other sessions go on", async (t) => {
  const client = await healthyClient();
  const s = await dial();
  const done = closed(s);
  const t0 = Date.now();
  const drip = setInterval(() => s.writable && s.write("{"), 1000);
  // Bounded, not timed: a byte a second forever would keep a peer with no time limit open for good.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error("the slow writer still connected after 20 s")), 20_000)));
  const got = await Promise.race([done, late]).finally(() => {
    clearTimeout(timer);
    clearInterval(drip);
    s.destroy();
  });
  assert.equal(got, "", "nothing is said to an unauthenticated peer");
  t.diagnostic(`closed after ${Date.now() - t0} ms`);
  await client.callTool({ name: "echo", arguments: { message: "still" } });
  await client.close();
});

test("garbage after a valid hello gets JSON-RPC errors on that session only", async () => {
  const client = await healthyClient();
  const token = readFileSync(stateFiles(home).token, "utf8").trim();
  const s = await dial();
  await sendHello(s, token, "session");
  let got = "";
  s.on("data", (d) => (got += d));
  s.resume(); // the hello leaves it paused
  s.write(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x0a]));
  s.write("not json at all\n");
  s.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
  await waitFor("the ping's answer", () => got.includes('"id":1'));
  const lines = got.trim().split("\n").map((l) => JSON.parse(l) as { id?: unknown; error?: { code: number } });
  assert.deepEqual(lines.slice(0, 2).map((l) => l.error?.code), [-32700, -32700]);
  s.destroy();
  await client.callTool({ name: "echo", arguments: { message: "unaffected" } });
  await client.close();
});

test("a session that never reads is dropped at its queue limit; memory stays bounded", async () => {
  const client = await healthyClient();
  const pid = Number(readGatewayJson(home)?.pid);
  const token = readFileSync(stateFiles(home).token, "utf8").trim();
  const s = await dial();
  await sendHello(s, token, "session");
  const done = closed(s);
  s.pause(); // never read: the primary's answers pile up
  const big = "x".repeat(90_000);
  for (let i = 0; i < 1200; i++) {
    s.write(JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "echo", arguments: { message: big } } }) + "\n");
    if (i % 100 === 99) await sleep(50);
  }
  // ~108 MB of requests to read and answer: at load 25 that took the primary over 30 s. A bound, not a speed.
  await waitFor("the primary to drop the session", () => readFileSync(stateFiles(home).log, "utf8").includes("peer stopped reading"), 90_000);
  s.resume();
  await done;
  const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  assert.ok(peakKiB < 512 * 1024, `primary peak RSS ${Math.round(peakKiB / 1024)} MiB`);
  await client.callTool({ name: "echo", arguments: { message: "unaffected" } });
  await client.close();
});
