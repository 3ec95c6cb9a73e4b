// Protocol eras on both sides of the gateway, through the built binary: modern (2026-07-28) and legacy
// (2025-11-25) clients sharing one primary and its downstream servers of both eras (stdio, modern-only stdio,
// Streamable HTTP, one that exits on the probe); multi-round-trip requests in all four combinations; the
// gateway's signed requestState refused when forged and honoured after the primary is killed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client, type ClientCapabilities } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { expectNoProcessLeft, gatewayEnv, installBinary, primaries, readGatewayJson, run, stopGateway, tempHome, waitFor, type Install } from "./harness.js";
import { fixtureLines, logText, textOf, waitForTools, writeConfig } from "./downstreamKit.js";
import { RawSession } from "./rawSession.js";

const MODERN_CAPS: ClientCapabilities = { elicitation: { form: {}, url: {} }, sampling: {} };
const LEGACY_CAPS: ClientCapabilities = { elicitation: { form: {} }, sampling: {}, roots: {} };

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

const fixture = (name: string) => resolve("test", "fixtures", name);

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** A client of the given era that answers elicitation (form and URL) and sampling, each answer naming `who`. */
async function eraClient(home: string, era: "modern" | "legacy", who: string, env: Record<string, string> = {}): Promise<{ client: Client; asked: string[] }> {
  const asked: string[] = [];
  const client = new Client(
    { name: `${era}-${who}`, version: "1.0.0" },
    { capabilities: era === "modern" ? MODERN_CAPS : LEGACY_CAPS, versionNegotiation: { mode: era === "modern" ? { pin: "2026-07-28" } : "legacy" } },
  );
  client.setRequestHandler("elicitation/create", async (req) => {
    asked.push(req.params.mode === "url" ? `url:${(req.params as { url: string }).url}` : `form:${req.params.message}`);
    return req.params.mode === "url" ? { action: "accept" } : { action: "accept", content: { name: who } };
  });
  client.setRequestHandler("sampling/createMessage", async (req) => {
    const first = req.params.messages[0]?.content;
    asked.push(`sample:${first && !Array.isArray(first) && first.type === "text" ? first.text : "?"}`);
    return { role: "assistant", content: { type: "text", text: `${who} says hi` }, model: `model-${who}` };
  });
  await client.connect(new StdioClientTransport({ command: install.bin, args: [], env: gatewayEnv(install, home, env), stderr: "pipe" }));
  assert.equal(client.getProtocolEra(), era);
  return { client, asked };
}

/** The `_meta` envelope a modern client puts on every request (2026-07-28, basic/index). */
function envelope(caps: ClientCapabilities = { elicitation: { form: {} } }) {
  return {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": caps,
    "io.modelcontextprotocol/clientInfo": { name: "raw-modern", version: "1" },
  };
}

/** One modern request through a raw session: the envelope added, the response returned as it came. */
function modern(s: RawSession, id: number | string, method: string, params: Record<string, unknown> = {}) {
  return s.request(id, method, { ...params, _meta: { ...envelope(), ...((params._meta as object) ?? {}) } });
}

const SERVERS = (state: { modern: string; legacy: string; only: string }, port: number) => ({
  modern: { command: process.execPath, args: [fixture("modern-server.mjs")], env: { MODERN_STATE: state.modern } },
  only: { command: process.execPath, args: [fixture("modern-server.mjs")], env: { MODERN_STATE: state.only, MODERN_ONLY: "1", MODERN_NAME: "modern-only" } },
  legacy: { command: process.execPath, args: [fixture("legacy-server.mjs")], env: { LEGACY_STATE: state.legacy } },
  // A legacy server that exits on any request before initialize, as servers built on rmcp do.
  rmcp: { command: process.execPath, args: [fixture("legacy-server.mjs")], env: { LEGACY_ON_PROBE: "exit" } },
  // One that never answers a request before initialize: on stdio, silence means legacy (after the probe's wait).
  silent: { command: process.execPath, args: [fixture("legacy-server.mjs")], env: { LEGACY_ON_PROBE: "silence" } },
  remote: { url: `http://127.0.0.1:${port}/mcp` },
});
const ALL = ["modern__pid", "only__pid", "legacy__pid", "rmcp__pid", "silent__pid", "remote__pid"];

describe("clients and downstream servers of both eras", () => {
  const home = tempHome();
  const state = { modern: mkdtempSync(join(tmpdir(), "cmg-modern-")), legacy: mkdtempSync(join(tmpdir(), "cmg-legacy-")), only: mkdtempSync(join(tmpdir(), "cmg-only-")) };
  let remote: ChildProcess;
  let port: number;
  const startRemote = async () => {
    remote = spawn(process.execPath, [fixture("modern-server.mjs")], { env: { ...process.env, MODERN_PORT: String(port), MODERN_NAME: "remote" }, stdio: "ignore" });
    await waitFor("the HTTP fixture", () => fetch(`http://127.0.0.1:${port}/mcp`).then(() => true, () => false), 20_000);
  };
  let legacyClient: Awaited<ReturnType<typeof eraClient>>;
  let modernClient: Awaited<ReturnType<typeof eraClient>>;

  before(async () => {
    port = await freePort();
    await startRemote();
    writeConfig(home, SERVERS(state, port));
    legacyClient = await eraClient(home, "legacy", "leo", { CLAUDE_MPM_GATEWAY_BACKOFF_MS: "200" });
    modernClient = await eraClient(home, "modern", "mia");
    for (const c of [legacyClient.client, modernClient.client]) await waitForTools(c, "every downstream server's tools", (n) => ALL.every((t) => n.includes(t)), 60_000);
  });
  after(async () => {
    await legacyClient?.client.close();
    await modernClient?.client.close();
    remote?.kill();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("both clients share one primary and reach every server, each spoken to in its own era, found once", async () => {
    assert.equal(primaries(install.bin).length, 1);
    for (const { client } of [legacyClient, modernClient]) {
      assert.match(textOf(await client.callTool({ name: "modern__pid", arguments: {} })), /^\d+ modern$/);
      assert.match(textOf(await client.callTool({ name: "only__pid", arguments: {} })), /^\d+ modern$/, "a server that never answers initialize");
      assert.match(textOf(await client.callTool({ name: "remote__pid", arguments: {} })), /^\d+ modern$/, "over Streamable HTTP");
      assert.match(textOf(await client.callTool({ name: "legacy__pid", arguments: {} })), /^\d+$/);
    }
    const log = logText(home);
    for (const [name, era] of [["modern", "modern"], ["only", "modern"], ["remote", "modern"], ["legacy", "legacy"], ["silent", "legacy"]]) {
      assert.match(log, new RegExp(`${name}: running \\(.*${era} era`), `${name} in the log`);
    }
    assert.equal(fixtureLines(state.modern, "starts").length, 1);
    // The legacy server heard one probe, then initialize, and never a modern envelope after it.
    const heard = fixtureLines(state.legacy, "requests").map((l) => JSON.parse(l) as { method: string; meta: string[] });
    assert.deepEqual(heard.slice(0, 2).map((r) => r.method), ["server/discover", "initialize"]);
    assert.equal(heard.filter((r) => r.method === "server/discover").length, 1);
    assert.deepEqual(heard.slice(1).flatMap((r) => r.meta.filter((k) => k.startsWith("io.modelcontextprotocol/"))), []);
  });

  test("a restarted legacy server is not probed again; one that exits on the probe is started as legacy", async () => {
    const { client } = legacyClient;
    assert.match(textOf(await client.callTool({ name: "rmcp__pid", arguments: {} })), /^\d+$/);
    assert.match(logText(home), /rmcp: closed the connection on the era probe; it is started as a legacy server next/);
    const old = Number(textOf(await client.callTool({ name: "legacy__pid", arguments: {} })));
    process.kill(old, "SIGKILL");
    await waitFor("the legacy server to run again", async () => {
      const r = await client.callTool({ name: "legacy__pid", arguments: {} });
      return !r.isError && Number(textOf(r)) !== old;
    }, 30_000);
    const methods = fixtureLines(state.legacy, "requests").map((l) => (JSON.parse(l) as { method: string }).method);
    assert.equal(methods.filter((m) => m === "initialize").length, 2);
    assert.equal(methods.filter((m) => m === "server/discover").length, 1, "the remembered era skips the probe");
  });

  test("a modern server sees each calling client's own capabilities, per request, not the gateway's", async () => {
    const seen = async (client: Client) => JSON.parse(textOf(await client.callTool({ name: "modern__caps", arguments: {} }))) as ClientCapabilities;
    assert.deepEqual(await seen(legacyClient.client), LEGACY_CAPS);
    assert.deepEqual(await seen(modernClient.client), MODERN_CAPS);
    assert.deepEqual(await seen(legacyClient.client), LEGACY_CAPS);
  });

  test("an elicitation round trip works in all four combinations of client and server era; sampling too", async () => {
    // modern client, modern server: input_required passed through, its state sealed by the gateway.
    assert.equal(textOf(await modernClient.client.callTool({ name: "modern__confirm", arguments: { action: "deploy" } })), "deploy confirmed by mia");
    // legacy client, modern server: the same input_required, asked as a real elicitation/create.
    assert.equal(textOf(await legacyClient.client.callTool({ name: "modern__confirm", arguments: { action: "ship" } })), "ship confirmed by leo");
    // modern client, legacy server: the server's elicitation/create during the call becomes input_required.
    assert.equal(textOf(await modernClient.client.callTool({ name: "legacy__elicit", arguments: {} })), 'elicited: accept {"name":"mia"}');
    // legacy client, legacy server: a real request, as ever.
    assert.equal(textOf(await legacyClient.client.callTool({ name: "legacy__elicit", arguments: {} })), 'elicited: accept {"name":"leo"}');
    assert.equal(textOf(await modernClient.client.callTool({ name: "legacy__sample", arguments: { prompt: "q1" } })), "sampled: mia says hi (model model-mia)");
    assert.equal(textOf(await legacyClient.client.callTool({ name: "modern__sample", arguments: { prompt: "q2" } })), "sampled: leo says hi (model model-leo)");
    assert.equal(textOf(await modernClient.client.callTool({ name: "remote__confirm", arguments: { action: "remote" } })), "remote confirmed by mia");
    assert.deepEqual(modernClient.asked, ['form:Who confirms "deploy"?', "form:Your name?", "sample:q1", 'form:Who confirms "remote"?']);
    assert.deepEqual(legacyClient.asked, ['form:Who confirms "ship"?', "form:Your name?", "sample:q2"]);
    // The modern server saw its own state back, unwrapped, on each retry.
    const rounds = fixtureLines(state.modern, "requests").map((l) => JSON.parse(l)).filter((r) => r.tool === "confirm");
    assert.deepEqual(rounds.map((r) => r.requestState), [null, { action: "deploy", round: 1 }, null, { action: "ship", round: 1 }]);
  });

  test("a legacy server's -32042 reaches a modern client as an in-band URL elicitation, a legacy one as the error", async () => {
    await assert.rejects(legacyClient.client.callTool({ name: "legacy__url_needed", arguments: {} }), (err: { code?: number }) => err.code === -32042);
    assert.equal(textOf(await legacyClient.client.callTool({ name: "legacy__url_needed", arguments: {} })), "signed in, url_needed done");
    assert.equal(textOf(await modernClient.client.callTool({ name: "legacy__url_needed", arguments: {} })), "signed in, url_needed done");
    assert.ok(modernClient.asked.includes("url:https://example.com/legacy-auth"));
  });

  test("a legacy server's resource-not-found (-32002) reaches clients of both eras as -32602", async () => {
    for (const { client } of [legacyClient, modernClient]) {
      await assert.rejects(client.readResource({ uri: "legacy://item/404" }), (err: { code?: number }) => err.code === -32602);
    }
  });
  test("a modern server's list changes arrive on its listen stream and reach clients of both eras, also after a remote one restarted", async () => {
    const changed: string[] = [];
    legacyClient.client.setNotificationHandler("notifications/tools/list_changed", () => void changed.push("legacy"));
    assert.equal(textOf(await modernClient.client.callTool({ name: "modern__grow", arguments: { n: 1 } })), "grew extra_1");
    await waitFor("the legacy client to hear tools/list_changed", () => changed.includes("legacy"), 20_000);
    for (const { client } of [legacyClient, modernClient]) {
      await waitForTools(client, "the new tool", (n) => n.includes("modern__extra_1"), 20_000);
      assert.equal(textOf(await client.callTool({ name: "modern__extra_1", arguments: {} })), "extra 1");
    }
    // The remote server goes away and comes back: its stream ended, the gateway listens again.
    remote.kill();
    await new Promise((r) => remote.once("exit", r));
    await startRemote();
    await waitFor("the gateway to listen to the remote server again", () => /remote: listening for list changes again/.test(logText(home)), 30_000);
    assert.equal(textOf(await legacyClient.client.callTool({ name: "remote__grow", arguments: { n: 2 } })), "grew extra_2");
    await waitForTools(modernClient.client, "remote__extra_2", (n) => n.includes("remote__extra_2"), 20_000);
  });

  test("no downstream server's own identity reaches a client", async () => {
    const s = new RawSession(install, home);
    try {
      await modern(s, 1, "server/discover");
      const r = (await modern(s, 2, "tools/call", { name: "modern__pid", arguments: {} })).result as { _meta?: Record<string, { name?: string }> };
      assert.equal(r._meta?.["io.modelcontextprotocol/serverInfo"]?.name, "claude-mpm-gateway");
      const ir = (await modern(s, 3, "tools/call", { name: "modern__confirm", arguments: { action: "x" } })).result as Record<string, unknown>;
      assert.equal(ir.resultType, "input_required");
      assert.equal((ir._meta as Record<string, { name?: string }> | undefined)?.["io.modelcontextprotocol/serverInfo"]?.name ?? "claude-mpm-gateway", "claude-mpm-gateway");
      assert.doesNotMatch(JSON.stringify(ir), /modern-fixture/);
    } finally {
      s.end();
      await s.exited;
    }
  });

  test("a forged, edited or foreign requestState is refused with a clear error, never used", async () => {
    const s = new RawSession(install, home);
    try {
      await modern(s, 1, "server/discover");
      const first = (await modern(s, 2, "tools/call", { name: "modern__confirm", arguments: { action: "a" } })).result as { requestState: string; inputRequests: Record<string, unknown> };
      const answers = { who: { action: "accept", content: { name: "mallory" } } };
      const retry = (id: number, requestState: string, args = { action: "a" }, name = "modern__confirm") =>
        modern(s, id, "tools/call", { name, arguments: args, inputResponses: answers, requestState });
      const [p, payload, mac] = first.requestState.split(".");
      // Another client's session (another bridge) holding this state.
      const other = new RawSession(install, home);
      await modern(other, 1, "server/discover");
      const cases: Array<[string, RegExp, () => Promise<Record<string, unknown>>]> = [
        ["made up", /not one this gateway issued/, () => retry(3, "v1.eyJwIjp7ImFjdGlvbiI6ImEiLCJyb3VuZCI6MX19.AAAA")],
        ["edited payload", /signature does not match/, () => retry(4, `${p}.${payload!.slice(0, -2)}Ab.${mac}`)],
        ["other arguments", /another request/, () => retry(5, first.requestState, { action: "b" })],
        ["other tool", /another request/, () => retry(6, first.requestState, { action: "a" }, "modern__sample")],
        ["other session", /another session/, () => modern(other, 2, "tools/call", { name: "modern__confirm", arguments: { action: "a" }, inputResponses: answers, requestState: first.requestState })],
      ];
      for (const [what, why, send] of cases) {
        const r = await send();
        const error = r.error as { code: number; message: string } | undefined;
        assert.equal(error?.code, -32602, `${what}: ${JSON.stringify(r)}`);
        assert.match(error!.message, why, what);
      }
      other.end();
      await other.exited;
      // The genuine one still works.
      const ok = (await retry(7, first.requestState)).result as Record<string, unknown>;
      assert.equal(textOf(ok), "a confirmed by mallory");
    } finally {
      s.end();
      await s.exited;
    }
  });
});

describe("a multi-round-trip retry after the primary is killed", () => {
  const home = tempHome();
  const state = { modern: mkdtempSync(join(tmpdir(), "cmg-modern-")), legacy: mkdtempSync(join(tmpdir(), "cmg-legacy-")) };
  before(() =>
    writeConfig(home, {
      modern: { command: process.execPath, args: [fixture("modern-server.mjs")], env: { MODERN_STATE: state.modern } },
      legacy: { command: process.execPath, args: [fixture("legacy-server.mjs")], env: { LEGACY_STATE: state.legacy } },
    }),
  );
  after(async () => {
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("the retry reaches the next primary and completes the call; a parked legacy call says to call again", async () => {
    const s = new RawSession(install, home);
    try {
      await modern(s, 1, "server/discover");
      await waitFor("both servers' tools", async () => {
        const r = (await modern(s, `list-${Date.now()}`, "tools/list")).result as { tools: Array<{ name: string }> };
        return ["modern__confirm", "legacy__elicit"].every((n) => r.tools.some((t) => t.name === n));
      }, 60_000);
      const first = (await modern(s, 2, "tools/call", { name: "modern__confirm", arguments: { action: "survive" } })).result as { requestState: string };
      const parked = (await modern(s, 3, "tools/call", { name: "legacy__elicit", arguments: {} })).result as { requestState: string; inputRequests: Record<string, unknown> };
      assert.equal(Object.keys(parked.inputRequests).length, 1);
      const old = Number(readGatewayJson(home)?.pid);
      process.kill(old, "SIGKILL");
      await waitFor("the old primary to die", () => !primaries(install.bin).includes(old), 10_000);
      // What was in flight when it died is answered with an error by the bridge; the next request starts a
      // new primary. A client goes on as clients do: its next request.
      let n = 0;
      await waitFor("a new primary to answer", async () => "result" in (await modern(s, `ping-${n++}`, "tools/list")), 30_000);
      const retried = await modern(s, 4, "tools/call", {
        name: "modern__confirm",
        arguments: { action: "survive" },
        inputResponses: { who: { action: "accept", content: { name: "phoenix" } } },
        requestState: first.requestState,
      });
      assert.ok(retried.result, JSON.stringify(retried));
      assert.equal(textOf(retried.result), "survive confirmed by phoenix", JSON.stringify(retried));
      assert.notEqual(Number(readGatewayJson(home)?.pid), old);
      const gone = await modern(s, 5, "tools/call", {
        name: "legacy__elicit",
        arguments: {},
        inputResponses: { [Object.keys(parked.inputRequests)[0]!]: { action: "accept", content: { name: "x" } } },
        requestState: parked.requestState,
      });
      assert.match((gone.error as { message: string }).message, /call the tool again/);
    } finally {
      s.end();
      await s.exited;
    }
  });
});

describe("a modern server's question with no client to ask", () => {
  test("`test <tool>` says the tool asks for input, exits 1 and prints nothing on stdout", () => {
    const home = tempHome();
    writeConfig(home, { modern: { command: process.execPath, args: [fixture("modern-server.mjs")] } });
    const r = run(install, home, ["test", "modern__confirm", '{"action":"x"}']);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /modern__confirm: .*asks for input \(elicitation\/create\) and no client is here to give it/);
    assert.equal(r.status, 1);
    assert.match(run(install, home, ["test", "modern__pid"]).stdout, /^\d+ modern\n$/);
  });
});
