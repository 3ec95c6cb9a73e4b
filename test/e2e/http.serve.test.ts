// `serve --http`: the built binary as an HTTP-only gateway, talked to by the SDK v2 client over real HTTP in
// both eras; its guard (401/403), its refusal to listen beyond loopback without a token, its drain on
// SIGTERM, and two replicas behind a round-robin TCP forwarder serving a modern client as one.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SERVERS, textOf, waitForTools, writeConfig } from "./downstreamKit.js";
import { expectNoProcessLeft, gatewayEnv, installBinary, run, tempHome, waitFor, type Install } from "./harness.js";
import { connectHttp, freshConnectionFetch, rawPost } from "./httpKit.js";
import { roundRobin } from "./roundRobin.js";

const TOKEN = "e2e-serve-token-0123456789abcdef";

let install: Install;
before(() => (install = installBinary()));
after(() => install.cleanup());

interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  port: number;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts `serve --http` and waits for the line that names its URL. */
async function serve(home: string, args: string[], env: Record<string, string> = { CLAUDE_MPM_GATEWAY_TOKEN: TOKEN }): Promise<Served> {
  const child = spawn(install.bin, ["serve", ...args], { env: gatewayEnv(install, home, env) });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  child.stdout.resume();
  const exited = new Promise<number | null>((r) => child.on("close", r));
  let url = "";
  await waitFor("serve --http to listen", () => {
    url = /serving MCP over Streamable HTTP at (\S+)/.exec(stderr)?.[1] ?? "";
    return url !== "" || child.exitCode !== null;
  }, 30_000);
  assert.ok(url, `serve --http did not start:\n${stderr}`);
  return { child, url, port: Number(new URL(url).port), stderr: () => stderr, exited };
}

test("serve --http: both eras list and call built-in and downstream tools; no or wrong token 401, foreign Origin 403; SIGTERM drains", async () => {
  const home = tempHome();
  writeConfig(home, { everything: SERVERS.everything() });
  const s = await serve(home, ["--http", "127.0.0.1:0"]);
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    for (const mode of ["auto", "legacy"] as const) {
      const { client, transport } = await connectHttp(s.url, TOKEN, mode);
      try {
        assert.equal(client.getProtocolEra(), mode === "auto" ? "modern" : "legacy");
        assert.equal(transport.sessionId === undefined, mode === "auto", "a session id only in the legacy era");
        await waitForTools(client, "the downstream tools", (names) => names.includes("echo") && names.includes("everything__echo"));
        assert.equal(textOf(await client.callTool({ name: "echo", arguments: { message: `hi ${mode}` } })), `hi ${mode}`);
        assert.equal(textOf(await client.callTool({ name: "everything__echo", arguments: { message: "down" } })), "Echo: down");
      } finally {
        await client.close();
      }
    }

    const noToken = await rawPost(s.url, {});
    assert.equal(noToken.status, 401);
    assert.match(noToken.text, /a bearer token is required/);
    assert.equal((await rawPost(s.url, { authorization: `Bearer ${TOKEN}x` })).status, 401);
    const foreign = await rawPost(s.url, { authorization: `Bearer ${TOKEN}`, origin: "https://evil.example" });
    assert.equal(foreign.status, 403);
    assert.match(foreign.text, /Forbidden: Origin .*evil\.example.* may not use this endpoint/);
    await assert.rejects(connectHttp(s.url, undefined, "auto"), /401|Unauthorized/, "the SDK client without the token is turned away");
    await assert.rejects(connectHttp(s.url, "wrong-token-0123456789", "legacy"), /401|Unauthorized/);
    const health = await fetch(s.url.replace(/\/mcp$/, "/healthz"));
    assert.deepEqual([health.status, await health.json()], [200, { status: "ok" }]);

    // SIGTERM while a call runs: the call gets its result, then the process exits 0. The call is surely
    // running once its first step's progress (1 s in) has come back, with 4 s to go; a fixed 500 ms wait
    // could send SIGTERM before a loaded machine had the call in flight.
    const { client } = await connectHttp(s.url, TOKEN, "auto");
    let progressed = false;
    const long = client.callTool({ name: "everything__trigger-long-running-operation", arguments: { duration: 5, steps: 5 } }, { onprogress: () => void (progressed = true) });
    await waitFor("the long call's first progress", () => progressed, 30_000);
    s.child.kill("SIGTERM");
    assert.match(textOf(await long), /Long running operation completed/);
    assert.equal(await s.exited, 0, s.stderr());
    assert.match(s.stderr(), /received SIGTERM: draining requests in flight/);
    await client.close().catch(() => undefined);
  } finally {
    s.child.kill("SIGKILL");
  }
  await expectNoProcessLeft(install.bin);
});

test("a profile in the URL (?profile=): that client sees the profile's tools, both eras; an unknown one is an error naming it", async () => {
  const home = tempHome();
  writeConfig(home, JSON.stringify({ mcpServers: {}, profiles: { lean: { tools: ["echo", "calc*"] } } }));
  const s = await serve(home, ["--http", "127.0.0.1:0"]);
  try {
    for (const mode of ["auto", "legacy"] as const) {
      const { client } = await connectHttp(`${s.url}?profile=lean`, TOKEN, mode);
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ["calculator", "echo"]);
      await client.close();
    }
    const plain = await connectHttp(s.url, TOKEN, "auto");
    assert.ok((await plain.client.listTools()).tools.length > 2, "without a profile: every tool");
    await plain.client.close();
    const wrong = await connectHttp(`${s.url}?profile=nope`, TOKEN, "auto").catch((e: Error) => e);
    const failure = wrong instanceof Error ? wrong : await wrong.client.listTools().then(() => undefined, (e: Error) => e);
    assert.match(String(failure?.message), /unknown profile "nope"/);
    if (!(wrong instanceof Error)) await wrong.client.close();
  } finally {
    s.child.kill("SIGTERM");
    await s.exited;
  }
  await expectNoProcessLeft(install.bin);
});

test("change notifications: a modern client's listen stream and a legacy session both hear tools/list_changed when config.json gains a server", async () => {
  const home = tempHome();
  writeConfig(home, {});
  const s = await serve(home, ["--http", "127.0.0.1:0"]);
  const modern = await connectHttp(s.url, TOKEN, "auto");
  // The legacy session hears notifications on the GET stream its client opens after initialize, on its own
  // time: the change must come after the gateway has answered that GET (a fixed 500 ms wait was a guess).
  let getStreamOpen = false;
  const watchGet: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (init?.method === "GET" && res.ok && res.headers.get("content-type")?.includes("text/event-stream")) getStreamOpen = true;
    return res;
  };
  const legacy = await connectHttp(s.url, TOKEN, "legacy", watchGet);
  try {
    const heard = { modern: 0, legacy: 0 };
    modern.client.setNotificationHandler("notifications/tools/list_changed", async () => void heard.modern++);
    legacy.client.setNotificationHandler("notifications/tools/list_changed", async () => void heard.legacy++);
    assert.deepEqual((await modern.client.listen({ toolsListChanged: true })).honoredFilter, { toolsListChanged: true });
    await waitFor("the legacy client's GET stream to be open", () => getStreamOpen, 30_000);
    writeConfig(home, { everything: SERVERS.everything() });
    await waitFor("tools/list_changed on both", () => heard.modern > 0 && heard.legacy > 0, 30_000);
    assert.ok((await modern.client.listTools()).tools.some((t) => t.name === "everything__echo"));
  } finally {
    await modern.client.close();
    await legacy.client.close();
    s.child.kill("SIGTERM");
    await s.exited;
  }
  await expectNoProcessLeft(install.bin);
});

test("serve --http beyond loopback without a token: refused at start, nothing listens", async () => {
  const home = tempHome();
  for (const addr of ["0.0.0.0:0", "[::]:0"]) {
    const r = run(install, home, ["serve", "--http", addr]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /refusing to listen on (0\.0\.0\.0|::) without a bearer token: set CLAUDE_MPM_GATEWAY_TOKEN or --token-file/);
    assert.equal(r.stdout, "");
  }
  const short = run(install, home, ["serve", "--http", "0.0.0.0:0"], { CLAUDE_MPM_GATEWAY_TOKEN: "short" });
  assert.equal(short.status, 2);
  assert.match(short.stderr, /at least 16 characters/);
  const none = run(install, home, ["serve"]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /serve needs --http/);
  await expectNoProcessLeft(install.bin);
});

test("two replicas behind a round-robin forwarder: consecutive modern calls land on both; one killed, the next calls succeed", async () => {
  const home = tempHome();
  writeConfig(home, {});
  const a = await serve(home, ["--http", "127.0.0.1:0"]);
  const b = await serve(home, ["--http", "127.0.0.1:0"]);
  const lb = await roundRobin([a.port, b.port]);
  const answeredBy: string[] = [];
  try {
    const { client } = await connectHttp(`http://127.0.0.1:${lb.port}/mcp`, TOKEN, "auto", freshConnectionFetch(answeredBy));
    assert.equal(client.getProtocolEra(), "modern");
    const call = async (i: number) => assert.equal(textOf(await client.callTool({ name: "echo", arguments: { message: `m${i}` } })), `m${i}`);
    answeredBy.length = 0;
    for (let i = 0; i < 10; i++) await call(i);
    const before = new Set(answeredBy);
    assert.equal(before.size, 2, `both replicas answered: ${JSON.stringify(answeredBy)}`);
    for (let i = 1; i < answeredBy.length; i++) assert.notEqual(answeredBy[i], answeredBy[i - 1], "consecutive calls alternate");

    a.child.kill("SIGKILL");
    await a.exited;
    answeredBy.length = 0;
    for (let i = 10; i < 20; i++) await call(i);
    assert.equal(new Set(answeredBy).size, 1, `only the survivor answers: ${JSON.stringify(answeredBy)}`);
    assert.ok(before.has(answeredBy[0]!));
    await client.close();
  } finally {
    await lb.close();
    a.child.kill("SIGKILL");
    b.child.kill("SIGTERM");
    await b.exited;
  }
  await expectNoProcessLeft(install.bin);
});

/** Live (non-zombie) processes by their parent and process group, read from /proc. */
function procTable(): Array<{ pid: number; ppid: number; pgrp: number; args: string[] }> {
  const out: Array<{ pid: number; ppid: number; pgrp: number; args: string[] }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z" || state === "X") continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      out.push({ pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp), args });
    } catch {
      // gone while we looked
    }
  }
  return out;
}

/** The downstream processes a replica started: its server children running the flaky fixture, and their groups. */
function serversOf(replica: number): number[] {
  const table = procTable();
  const leaders = table.filter((p) => p.ppid === replica && p.args.some((a) => a.endsWith("flaky-server.mjs"))).map((p) => p.pid);
  return table.filter((p) => leaders.includes(p.pgrp)).map((p) => p.pid);
}

/** A replica's watchdog: its child that is neither a server nor anything else the replica starts. */
function watchdogOf(replica: number): number[] {
  return procTable()
    .filter((p) => p.ppid === replica && !p.args.some((a) => a.endsWith("flaky-server.mjs")))
    .map((p) => p.pid);
}

const alive = (pids: number[]) => pids.filter((pid) => procTable().some((p) => p.pid === pid));

test("kill -9 of a serve --http replica ends its downstream servers and their children; a replica's record never reaps a live replica's", async () => {
  const home = tempHome();
  const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
  // Stubborn: stdin EOF (its replica's death) does not end it; only a signal to its group does.
  writeConfig(home, { stubborn: SERVERS.flaky(state, { FLAKY_STUBBORN: "1" }) });
  const replicas: Served[] = [];
  const groups: number[] = [];
  /** A replica whose server runs and has started a grandchild (in its group); returns the group's pids. */
  const startReplica = async (): Promise<{ s: Served; group: number[] }> => {
    const s = await serve(home, ["--http", "127.0.0.1:0"]);
    replicas.push(s);
    const { client } = await connectHttp(s.url, TOKEN, "auto");
    await waitForTools(client, "the stubborn server's tools", (names) => names.includes("stubborn__grandchild"));
    await client.callTool({ name: "stubborn__grandchild", arguments: {} });
    await client.close();
    let group: number[] = [];
    await waitFor("the server and its grandchild", () => (group = serversOf(s.child.pid!)).length === 2, 10_000);
    groups.push(...group);
    return { s, group };
  };
  try {
    const a = await startReplica();
    const b = await startReplica();
    a.s.child.kill("SIGKILL");
    await a.s.exited;
    await waitFor("the killed replica's server and grandchild to end", () => alive(a.group).length === 0, 15_000);
    assert.deepEqual(alive(b.group).sort(), [...b.group].sort(), "the other replica's servers untouched");

    // A replica killed together with its watchdog: the next replica to start reaps what its record holds,
    // and only that (B's record names a dead owner; C's own and any live replica's are left alone).
    const watchdogs = watchdogOf(b.s.child.pid!);
    assert.equal(watchdogs.length, 1, "one watchdog per replica");
    process.kill(watchdogs[0]!, "SIGKILL");
    b.s.child.kill("SIGKILL");
    await b.s.exited;
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(alive(b.group).sort(), [...b.group].sort(), "with no watchdog, they outlived their replica");
    const c = await startReplica();
    await waitFor("the dead replica's leftovers reaped by the next one", () => alive(b.group).length === 0, 15_000);
    assert.deepEqual(alive(c.group).sort(), [...c.group].sort(), "its own server runs");
    c.s.child.kill("SIGTERM");
    assert.equal(await c.s.exited, 0, c.s.stderr());
    await waitFor("its servers stopped at a clean exit", () => alive(c.group).length === 0, 15_000);
    assert.deepEqual(readdirSync(join(home, "mcp")).filter((f) => f.startsWith("downstream")), [], "no record left");
  } finally {
    for (const s of replicas) s.child.kill("SIGKILL");
  }
  await expectNoProcessLeft(install.bin);
  await waitFor("every downstream process to end", () => alive(groups).length === 0, 10_000);
});
