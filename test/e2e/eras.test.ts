// Protocol eras on both sides of the gateway, through the built binary: downstream servers of both eras
// (2026-07-28 and 2025-11-25; stdio, modern-only stdio, Streamable HTTP) behind one primary, and the
// multi-round-trip requests between them and a client.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client, type ClientCapabilities } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { expectNoProcessLeft, gatewayEnv, installBinary, run, stopGateway, tempHome, waitFor, type Install } from "./harness.js";
import { fixtureLines, logText, textOf, waitForTools, writeConfig } from "./downstreamKit.js";

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

const SERVERS = (state: { modern: string; legacy: string; only: string }, port: number) => ({
  modern: { command: process.execPath, args: [fixture("modern-server.mjs")], env: { MODERN_STATE: state.modern } },
  only: { command: process.execPath, args: [fixture("modern-server.mjs")], env: { MODERN_STATE: state.only, MODERN_ONLY: "1", MODERN_NAME: "modern-only" } },
  legacy: { command: process.execPath, args: [fixture("legacy-server.mjs")], env: { LEGACY_STATE: state.legacy } },
  // A legacy server that exits on any request before initialize, as servers built on rmcp do.
  rmcp: { command: process.execPath, args: [fixture("legacy-server.mjs")], env: { LEGACY_ON_PROBE: "exit" } },
  remote: { url: `http://127.0.0.1:${port}/mcp` },
});
const ALL = ["modern__pid", "only__pid", "legacy__pid", "rmcp__pid", "remote__pid"];

describe("downstream servers of both eras, for a legacy client", () => {
  const home = tempHome();
  const state = { modern: mkdtempSync(join(tmpdir(), "cmg-modern-")), legacy: mkdtempSync(join(tmpdir(), "cmg-legacy-")), only: mkdtempSync(join(tmpdir(), "cmg-only-")) };
  let remote: ChildProcess;
  let port: number;
  const startRemote = async () => {
    remote = spawn(process.execPath, [fixture("modern-server.mjs")], { env: { ...process.env, MODERN_PORT: String(port), MODERN_NAME: "remote" }, stdio: "ignore" });
    await waitFor("the HTTP fixture", () => fetch(`http://127.0.0.1:${port}/mcp`).then(() => true, () => false), 20_000);
  };
  let legacyClient: Awaited<ReturnType<typeof eraClient>>;

  before(async () => {
    port = await freePort();
    await startRemote();
    writeConfig(home, SERVERS(state, port));
    legacyClient = await eraClient(home, "legacy", "leo", { CLAUDE_MPM_GATEWAY_BACKOFF_MS: "200" });
    await waitForTools(legacyClient.client, "every downstream server's tools", (n) => ALL.every((t) => n.includes(t)), 60_000);
  });
  after(async () => {
    await legacyClient?.client.close();
    remote?.kill();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("every server is reached, each spoken to in its own era, found once", async () => {
    const { client } = legacyClient;
    assert.match(textOf(await client.callTool({ name: "modern__pid", arguments: {} })), /^\d+ modern$/);
    assert.match(textOf(await client.callTool({ name: "only__pid", arguments: {} })), /^\d+ modern$/, "a server that never answers initialize");
    assert.match(textOf(await client.callTool({ name: "remote__pid", arguments: {} })), /^\d+ modern$/, "over Streamable HTTP");
    assert.match(textOf(await client.callTool({ name: "legacy__pid", arguments: {} })), /^\d+$/);
    const log = logText(home);
    for (const [name, era] of [["modern", "modern"], ["only", "modern"], ["remote", "modern"], ["legacy", "legacy"]]) {
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

  test("a modern server's list changes arrive on its listen stream, also after a remote one restarted", async () => {
    const { client } = legacyClient;
    assert.equal(textOf(await client.callTool({ name: "modern__grow", arguments: { n: 1 } })), "grew extra_1");
    await waitForTools(client, "modern__extra_1", (n) => n.includes("modern__extra_1"), 20_000);
    assert.equal(textOf(await client.callTool({ name: "modern__extra_1", arguments: {} })), "extra 1");
    // The remote server goes away and comes back: its stream ended, the gateway listens again.
    remote.kill();
    await new Promise((r) => remote.once("exit", r));
    await startRemote();
    await waitFor("the gateway to listen to the remote server again", () => /remote: listening for list changes again/.test(logText(home)), 30_000);
    assert.equal(textOf(await client.callTool({ name: "remote__grow", arguments: { n: 2 } })), "grew extra_2");
    await waitForTools(client, "remote__extra_2", (n) => n.includes("remote__extra_2"), 20_000);
  });

  test("a modern server sees the calling client's own capabilities, not the gateway's", async () => {
    assert.deepEqual(JSON.parse(textOf(await legacyClient.client.callTool({ name: "modern__caps", arguments: {} }))), LEGACY_CAPS);
  });

  test("elicitation and sampling reach the client from a server of either era", async () => {
    const { client, asked } = legacyClient;
    // A modern server's input_required, asked as a real elicitation/create; its own state comes back to it.
    assert.equal(textOf(await client.callTool({ name: "modern__confirm", arguments: { action: "ship" } })), "ship confirmed by leo");
    // A legacy server's elicitation/create during the call: a real request, as ever.
    assert.equal(textOf(await client.callTool({ name: "legacy__elicit", arguments: {} })), 'elicited: accept {"name":"leo"}');
    assert.equal(textOf(await client.callTool({ name: "modern__sample", arguments: { prompt: "q2" } })), "sampled: leo says hi (model model-leo)");
    assert.equal(textOf(await client.callTool({ name: "legacy__sample", arguments: { prompt: "q3" } })), "sampled: leo says hi (model model-leo)");
    assert.deepEqual(asked, ['form:Who confirms "ship"?', "form:Your name?", "sample:q2", "sample:q3"]);
    const rounds = fixtureLines(state.modern, "requests").map((l) => JSON.parse(l)).filter((r) => r.tool === "confirm");
    assert.deepEqual(rounds.map((r) => r.requestState), [null, { action: "ship", round: 1 }], "the server's own state, unwrapped");
  });

  test("a legacy server's -32042 reaches a legacy client as it was sent; its -32002 as -32602", async () => {
    const { client } = legacyClient;
    await assert.rejects(client.callTool({ name: "legacy__url_needed", arguments: {} }), (err: { code?: number }) => err.code === -32042);
    assert.equal(textOf(await client.callTool({ name: "legacy__url_needed", arguments: {} })), "signed in, url_needed done");
    await assert.rejects(client.readResource({ uri: "legacy://item/404" }), (err: { code?: number }) => err.code === -32602);
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
