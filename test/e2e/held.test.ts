// Downstream servers held once (issue 10), through the built binary: never missing while the primary
// (re)starts, never left behind after it dies, never crossing sessions, the client's choices honoured.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client as ClientClass, type Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { connectClient, expectNoProcessLeft, gatewayEnv, installBinary, isAlive, primaries, processesOf, readGatewayJson, run, stopGateway, tempHome, waitFor, watchdogs, type Install } from "./harness.js";
import { fixtureLines, SERVERS, textOf, writeConfig } from "./downstreamKit.js";
import { RawSession } from "./rawSession.js";

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

describe("ready before answering", () => {
  test("the first tools/list after a cold start holds every reference server's tools", async () => {
    const home = tempHome();
    const files = mkdtempSync(join(tmpdir(), "cmg-files-"));
    writeFileSync(join(files, "hello.txt"), "hello");
    writeConfig(home, {
      everything: { ...SERVERS.everything(), startTimeoutMs: 60_000 },
      memory: { ...SERVERS.memory(), env: { MEMORY_FILE_PATH: join(files, "memory.jsonl") }, startTimeoutMs: 60_000 },
      filesystem: { ...SERVERS.filesystem(files), startTimeoutMs: 60_000 },
    });
    const { client } = await connectClient(install, home);
    const first = (await client.listTools()).tools.map((t) => t.name);
    for (const server of ["everything", "memory", "filesystem"]) {
      assert.ok(first.some((n) => n.startsWith(`${server}__`)), `${server}'s tools in the first list: ${first.join(", ")}`);
    }
    // The first list is the whole list: nothing arrived later.
    const later = (await client.listTools()).tools.map((t) => t.name);
    assert.deepEqual(first, later);
    // And a call made at once after another cold start reaches its server instead of "Unknown tool".
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
    const again = await connectClient(install, home);
    const r = await again.client.callTool({ name: "everything__echo", arguments: { message: "cold" } });
    assert.equal(r.isError, undefined, textOf(r));
    assert.match(textOf(r), /cold/);
    await again.client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  /** Calls `flaky__pid` in a loop until `until`, noting in `seen` what each call answered (text, or the error's message). */
  function callLoop(client: Client, seen: string[], until: () => boolean): Promise<string[]> {
    return (async () => {
      while (!until()) {
        try {
          const r = await client.callTool({ name: "flaky__pid", arguments: {} });
          seen.push(r.isError ? `tool error: ${textOf(r)}` : textOf(r));
        } catch (err) {
          seen.push(`rpc error: ${(err as Error).message}`);
        }
      }
      return seen;
    })();
  }

  for (const how of ["kill -9", "restart"] as const) {
    test(`calls in a loop across ${how} of the primary never meet "Unknown tool"`, async () => {
      const home = tempHome();
      const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
      // A server that takes a while to start, as an npx one does: the window in which tools were unknown.
      writeConfig(home, { flaky: { ...SERVERS.flaky(state, { FLAKY_START_DELAY_MS: "1000" }), startTimeoutMs: 60_000 } });
      const { client } = await connectClient(install, home);
      let done = false;
      const seen: string[] = [];
      const loop = callLoop(client, seen, () => done);
      await waitFor("a call answered by the first primary", () => seen.some((s) => /^\d+$/.test(s)), 30_000);
      const firstPid = Number(readGatewayJson(home)?.pid);
      for (let round = 0; round < 2; round++) {
        const before = Number(readGatewayJson(home)?.pid);
        if (how === "kill -9") process.kill(before, "SIGKILL");
        else assert.equal(run(install, home, ["restart"]).status, 0);
        await waitFor("a new primary", () => {
          const pid = Number(readGatewayJson(home)?.pid);
          return pid > 0 && pid !== before;
        }, 30_000);
        await new Promise((r) => setTimeout(r, 1500));
      }
      done = true;
      await loop;
      assert.notEqual(Number(readGatewayJson(home)?.pid), firstPid);
      assert.ok(seen.length > 3, `calls made: ${seen.length}`);
      assert.deepEqual(seen.filter((s) => /Unknown tool/.test(s)), [], "no call met Unknown tool");
      assert.deepEqual(seen.filter((s) => s.startsWith("tool error")), [], "no call met a down server");
      // A call in flight when the primary goes is answered with an error (never lost): at most one per round.
      const errors = seen.filter((s) => s.startsWith("rpc error"));
      assert.ok(errors.length <= 2, `rpc errors: ${errors.join(" | ")}`);
      assert.ok(seen.filter((s) => /^\d+$/.test(s)).length >= seen.length - errors.length);
      await client.close();
      stopGateway(install, home);
      await expectNoProcessLeft(install.bin);
    });
  }
});

describe("the client's choices honoured", () => {
  test("a downstream server gets the base environment and its own env, never the client's", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { flaky: SERVERS.flaky(state, { OWN_SETTING: "mine" }) });
    const { client } = await connectClient(install, home, [], { CLIENT_API_KEY: "client-secret", LANG: "C.UTF-8" });
    const env = JSON.parse(textOf(await client.callTool({ name: "flaky__env", arguments: {} }))) as Record<string, string>;
    assert.equal(env.CLIENT_API_KEY, undefined, "the client's variable does not reach the server");
    assert.equal(env.CLAUDE_MPM_HOME, undefined, "nor the gateway's own settings");
    assert.equal(env.OWN_SETTING, "mine");
    assert.equal(env.LANG, "C.UTF-8");
    assert.equal(env.HOME, home);
    assert.equal(env.PATH, install.dir);
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("--config <path> gets a primary of its own serving that config; status --config reports it", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { mine: SERVERS.flaky(state) });
    const other = join(mkdtempSync(join(tmpdir(), "cmg-other-")), "servers.json");
    writeFileSync(other, JSON.stringify({ mcpServers: { theirs: SERVERS.flaky(state) } }));
    const a = await connectClient(install, home);
    // A linger longer than the test: `stop --config` below must find that primary, however slow the machine.
    const b = await connectClient(install, home, ["--config", other], { CLAUDE_MPM_GATEWAY_LINGER_MS: "60000" });
    const names = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).filter((n) => n.includes("__"));
    assert.deepEqual((await names(a.client)).filter((n) => n.endsWith("__pid")), ["mine__pid"]);
    assert.deepEqual((await names(b.client)).filter((n) => n.endsWith("__pid")), ["theirs__pid"]);
    await waitFor("two primaries", () => primaries(install.bin).length === 2, 10_000);
    const st = run(install, home, ["status", "--json", "--config", other]);
    assert.equal(st.status, 0, st.stderr);
    const json = JSON.parse(st.stdout) as { config_path: string; pid: number };
    assert.equal(json.config_path, other);
    assert.notEqual(json.pid, Number(readGatewayJson(home)?.pid));
    assert.equal((JSON.parse(run(install, home, ["status", "--json"]).stdout) as { config_path: string }).config_path, join(home, "mcp", "config.json"));
    await a.client.close();
    await b.client.close();
    stopGateway(install, home);
    assert.equal(run(install, home, ["stop", "--config", other]).status, 0);
    await expectNoProcessLeft(install.bin);
  });
});

/** Pids of live processes whose environment holds `marker` (the servers and their children). */
function markedProcesses(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

describe("nothing left behind", () => {
  /** A home with one stubborn server (stdin EOF does not end it) that started a grandchild; returns its marker. */
  async function stubbornSetup(env: Record<string, string> = {}): Promise<{ home: string; marker: string; client: Client; pids: number[] }> {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { stubborn: SERVERS.flaky(state, { FLAKY_STUBBORN: "1", ...env }) });
    const { client } = await connectClient(install, home);
    const server = Number(textOf(await client.callTool({ name: "stubborn__pid", arguments: {} })));
    const grandchild = Number(textOf(await client.callTool({ name: "stubborn__grandchild", arguments: {} })));
    const marker = `FLAKY_STATE=${state}`;
    assert.deepEqual(markedProcesses(marker).sort(), [server, grandchild].sort());
    return { home, marker, client, pids: [server, grandchild] };
  }

  test("kill -9 of the primary with no client: no downstream process (nor its child) is left", async () => {
    const { home, marker, client } = await stubbornSetup();
    await client.close();
    process.kill(Number(readGatewayJson(home)?.pid), "SIGKILL");
    // Bounded, not a fixed 3 s: the watchdog (a shell) must see the primary go, then TERM and KILL the
    // groups, each step a process to schedule on a loaded machine. A server nobody ends stays for good.
    await waitFor("every downstream process ended by the watchdog", () => markedProcesses(marker).length === 0, 15_000).catch(() => undefined);
    assert.deepEqual(markedProcesses(marker), [], "every downstream process ended by the watchdog");
    await expectNoProcessLeft(install.bin);
  });

  test("kill -9 of the primary: its watchdog is a shell, not a gateway process, and ends a server deaf to SIGTERM with SIGKILL", async () => {
    const { home, marker, client } = await stubbornSetup({ FLAKY_IGNORE_TERM: "1" });
    await client.close();
    const found = watchdogs(install.bin);
    assert.equal(found.length, 1, "one watchdog per primary");
    assert.match(readlinkSync(`/proc/${found[0]}/exe`), /\/(da|ba)?sh$/, "the watchdog runs /bin/sh");
    process.kill(Number(readGatewayJson(home)?.pid), "SIGKILL");
    await waitFor("the server (SIGTERM ignored) and its child to end", () => markedProcesses(marker).length === 0, 10_000);
    await waitFor("the watchdog to leave", () => !isAlive(found[0]!), 10_000);
    await expectNoProcessLeft(install.bin);
  });

  test("primary and watchdog both killed: the next primary reaps what they recorded before starting its own", async () => {
    const { home, marker, client, pids } = await stubbornSetup();
    await client.close();
    const found = watchdogs(install.bin);
    assert.equal(found.length, 1, "one watchdog per primary");
    for (const w of found) process.kill(w, "SIGKILL");
    process.kill(Number(readGatewayJson(home)?.pid), "SIGKILL");
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(markedProcesses(marker).sort(), [...pids].sort(), "with no watchdog, they outlived the primary");
    const again = await connectClient(install, home);
    const fresh = Number(textOf(await again.client.callTool({ name: "stubborn__pid", arguments: {} })));
    assert.ok(!pids.includes(fresh));
    assert.deepEqual(markedProcesses(marker), [fresh], "the old server and its child reaped; one server runs");
    await again.client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
    await waitFor("the last server to end", () => markedProcesses(marker).length === 0, 10_000);
  });
  test("--standalone ended by SIGTERM while its client keeps stdin open: it exits and stops its servers", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { stubborn: SERVERS.flaky(state, { FLAKY_STUBBORN: "1" }) });
    const { client } = await connectClient(install, home, ["--standalone"]);
    try {
      const server = Number(textOf(await client.callTool({ name: "stubborn__pid", arguments: {} })));
      const grandchild = Number(textOf(await client.callTool({ name: "stubborn__grandchild", arguments: {} })));
      const marker = `FLAKY_STATE=${state}`;
      assert.deepEqual(markedProcesses(marker).sort(), [server, grandchild].sort());
      const gateway = processesOf(install.bin).filter((p) => p.args.includes("--standalone"));
      assert.equal(gateway.length, 1, JSON.stringify(gateway));
      process.kill(gateway[0]!.pid, "SIGTERM");
      await waitFor("the standalone gateway to exit", () => !isAlive(gateway[0]!.pid), 15_000);
      await waitFor("its server and the server's child to end", () => markedProcesses(marker).length === 0, 15_000);
    } finally {
      await client.close();
    }
    await expectNoProcessLeft(install.bin);
  });
});

describe("never across sessions", () => {
  /** A client that answers sampling with its own name, noting every prompt it was shown. */
  async function sampler(home: string, name: string, shown: string[], extra: Record<string, string> = {}): Promise<Client> {
    const transport = new StdioClientTransport({ command: install.bin, args: [], env: gatewayEnv(install, home, extra), stderr: "pipe" });
    const client = new ClientClass({ name: `sampler-${name}`, version: "1.0.0" }, { capabilities: { sampling: {} } });
    client.setRequestHandler("sampling/createMessage", (req) => {
      const first = req.params.messages[0]?.content;
      const asked = first && "type" in first && first.type === "text" ? first.text : "?";
      shown.push(asked);
      return { role: "assistant", content: { type: "text", text: `${name}:${asked}` }, model: `model-${name}` };
    });
    await client.connect(transport);
    return client;
  }

  test("two sessions calling one sampling server: the request reaches the right one or is refused, never the other", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { flaky: SERVERS.flaky(state) });
    const shownA: string[] = [];
    const shownB: string[] = [];
    const a = await sampler(home, "A", shownA);
    const b = await sampler(home, "B", shownB);
    // One session calling: its own client is asked.
    assert.equal(textOf(await a.callTool({ name: "flaky__sample", arguments: { prompt: "a alone" } })), "sampled: A:a alone (model model-A)");
    assert.equal(textOf(await b.callTool({ name: "flaky__sample", arguments: { prompt: "b alone" } })), "sampled: B:b alone (model model-B)");
    // B has a call in flight to the same server: A's sampling request cannot be told apart from one of B's.
    const cancel = new AbortController();
    const hanging = b.callTool({ name: "flaky__hang", arguments: { tag: "b" } }, { signal: cancel.signal }).catch(() => undefined);
    await waitFor("B's call in flight", () => fixtureLines(state, "hanging").includes("b"), 30_000);
    const refused = await a.callTool({ name: "flaky__sample", arguments: { prompt: "secret of A" } });
    assert.equal(refused.isError, true, textOf(refused));
    assert.match(textOf(refused), /calls of 2 clients to "flaky" are in flight.*refused rather than guessed/);
    cancel.abort();
    await hanging;
    assert.deepEqual(shownA, ["a alone"]);
    assert.deepEqual(shownB, ["b alone"], "B never saw A's prompt");
    await a.close();
    await b.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("a server's log messages reach only the one calling session that asked for them", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { flaky: SERVERS.flaky(state) });
    const a = (await connectClient(install, home)).client;
    const b = (await connectClient(install, home)).client;
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    a.setNotificationHandler("notifications/message", (n) => void gotA.push(n.params.data));
    b.setNotificationHandler("notifications/message", (n) => void gotB.push(n.params.data));
    await a.setLoggingLevel("info");
    await b.callTool({ name: "flaky__log", arguments: { message: "B's path /home/b/secret" } });
    await a.callTool({ name: "flaky__log", arguments: { message: "A's own" } });
    await waitFor("A's own log message", () => gotA.includes("A's own"), 15_000);
    assert.deepEqual(gotA, ["A's own"], "A never gets B's messages");
    assert.deepEqual(gotB, [], "B asked for none");
    await a.close();
    await b.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("one instance per session", () => {
  test('"scope": "session": two sessions, two processes, each started on first use and stopped with its session', async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { shell: { ...SERVERS.flaky(state), scope: "session" } });
    const a = (await connectClient(install, home)).client;
    const b = (await connectClient(install, home)).client;
    // Listed for every session although no session's instance runs yet: the lists were learned at start.
    assert.ok((await a.listTools()).tools.some((t) => t.name === "shell__pid"));
    const marker = `FLAKY_STATE=${state}`;
    await waitFor("the listing instance to go", () => markedProcesses(marker).length === 0, 30_000);
    const pidA = Number(textOf(await a.callTool({ name: "shell__pid", arguments: {} })));
    const pidB = Number(textOf(await b.callTool({ name: "shell__pid", arguments: {} })));
    assert.ok(pidA > 0 && pidB > 0);
    assert.notEqual(pidA, pidB, "each session has a process of its own");
    assert.equal(Number(textOf(await a.callTool({ name: "shell__pid", arguments: {} }))), pidA, "and keeps it");
    assert.deepEqual(markedProcesses(marker).sort(), [pidA, pidB].sort());
    const lines = (JSON.parse(run(install, home, ["status", "--json"]).stdout) as { downstream: Array<{ name: string; state: string; pid: number | null }> }).downstream;
    assert.deepEqual(lines.map((l) => l.state).sort(), ["per-session", "running", "running"]);
    await a.close();
    await waitFor("A's instance to stop with A's session", () => !markedProcesses(marker).includes(pidA), 15_000);
    assert.deepEqual(markedProcesses(marker), [pidB]);
    await b.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
    await waitFor("no instance left", () => markedProcesses(marker).length === 0, 10_000);
  });
});

describe("a legacy client's session across a takeover", () => {
  test("its log level is replayed to the next primary: log messages keep coming after kill -9", async () => {
    const home = tempHome();
    const state = mkdtempSync(join(tmpdir(), "cmg-flaky-"));
    writeConfig(home, { flaky: SERVERS.flaky(state) });
    const s = new RawSession(install, home);
    await s.initialize();
    await s.request(1, "logging/setLevel", { level: "info" });
    let id = 1;
    /**
     * Calls flaky__log and returns the log messages that came with the call. A call the bridge wrote to the
     * killed primary before it saw the connection close is answered with an error: that call is made again.
     */
    const logged = async (message: string): Promise<unknown[]> => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const mine = ++id;
        s.send({ jsonrpc: "2.0", id: mine, method: "tools/call", params: { name: "flaky__log", arguments: { message } } });
        const data: unknown[] = [];
        for (;;) {
          const msg = await s.next(30_000);
          if (msg.method === "notifications/message") data.push((msg.params as { data: unknown }).data);
          if (msg.id !== mine) continue;
          if (!("error" in msg)) return data;
          break;
        }
      }
      throw new Error("three calls in a row were answered with an error");
    };
    assert.deepEqual(await logged("before"), ["before"]);
    const first = Number(readGatewayJson(home)?.pid);
    process.kill(first, "SIGKILL");
    await waitFor("the old primary gone", () => !primaries(install.bin).includes(first), 10_000);
    // The bridge replays initialize and the level the client set; without the level, no message would come.
    assert.deepEqual(await logged("after takeover"), ["after takeover"]);
    assert.notEqual(Number(readGatewayJson(home)?.pid), first);
    s.end();
    await s.exited;
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});
