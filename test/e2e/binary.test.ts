// The binary as a user and as an MCP client meet it: CLI output, every tool over MCP, bad frames, EOF.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync, statSync } from "node:fs";
import { connectClient, expectNoProcessLeft, installBinary, run, stopGateway, tempHome, type Install } from "./harness.js";
import { RawSession } from "./rawSession.js";

const VERSION = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
const TOOLS = ["echo", "calculator", "system_info", "health_check", "document_summarizer"];

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

describe("command line", () => {
  test("--version prints the version alone", () => {
    const home = tempHome();
    for (const flag of ["--version", "-v"]) {
      const r = run(install, home, [flag]);
      assert.deepEqual(r, { status: 0, stdout: `${VERSION}\n`, stderr: "" });
    }
  });

  test("--help lists the commands and exit codes on stdout", () => {
    const r = run(install, tempHome(), ["--help"]);
    assert.equal(r.status, 0);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^claude-mpm-gateway\n\nUsage:\n {2}\$ claude-mpm-gateway \[\.\.\.args\]/);
    for (const cmd of ["status", "tools", "test <tool> [json-args]", "stop", "restart", "--standalone"]) assert.ok(r.stdout.includes(cmd), cmd);
    assert.match(r.stdout, /3 {2}status\/stop: no gateway running/);
  });

  test("tools lists the five tools, one line each", () => {
    const r = run(install, tempHome(), ["tools"]);
    assert.equal(r.status, 0);
    assert.equal(r.stderr, "");
    const names = r.stdout.trimEnd().split("\n").map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(names, TOOLS);
  });

  test("tools --json --verbose gives the schemas", () => {
    const r = run(install, tempHome(), ["tools", "--json", "--verbose"]);
    assert.equal(r.status, 0);
    const tools = JSON.parse(r.stdout) as Array<{ name: string; inputSchema: { type: string; required?: string[] } }>;
    assert.deepEqual(tools.map((t) => t.name), TOOLS);
    const calc = tools.find((t) => t.name === "calculator")!;
    assert.equal(calc.inputSchema.type, "object");
    assert.deepEqual([...(calc.inputSchema.required ?? [])].sort(), ["a", "b", "operation"]);
  });

  test("test prints the result and exits 0", () => {
    const r = run(install, tempHome(), ["test", "calculator", '{"operation":"multiply","a":6,"b":7}']);
    assert.deepEqual(r, { status: 0, stdout: "6 * 7 = 42\n", stderr: "" });
  });

  test("test with a tool error exits 1 with the message on stderr", () => {
    const r = run(install, tempHome(), ["test", "calculator", '{"operation":"divide","a":1,"b":0}']);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^claude-mpm-gateway: calculator: Division by zero/);
  });

  test("usage errors exit 2", () => {
    const home = tempHome();
    const badJson = run(install, home, ["test", "echo", "{not json"]);
    assert.equal(badJson.status, 2);
    assert.match(badJson.stderr, /arguments must be a JSON object/);
    const unknown = run(install, home, ["test", "nope"]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown tool "nope"/);
    const badCmd = run(install, home, ["frobnicate"]);
    assert.equal(badCmd.status, 2);
    assert.match(badCmd.stderr, /unknown command "frobnicate"/);
    const badOpt = run(install, home, ["--frobnicate"]);
    assert.equal(badOpt.status, 2);
    assert.equal(badOpt.stdout, "");
  });
});

for (const mode of ["bridge", "standalone"] as const) {
  describe(`MCP over stdio (${mode})`, () => {
    const args = mode === "standalone" ? ["--standalone"] : [];
    const home = tempHome();
    after(async () => {
      stopGateway(install, home);
      await expectNoProcessLeft(install.bin);
    });

    test("initialize negotiates 2025-11-25 and 2025-06-18", async () => {
      for (const version of ["2025-11-25", "2025-06-18"]) {
        const s = new RawSession(install, home, args);
        const result = await s.initialize(version);
        assert.equal(result.protocolVersion, version);
        assert.deepEqual(result.serverInfo, { name: "claude-mpm-gateway", version: VERSION, title: "Claude MPM Gateway" });
        s.end();
        assert.deepEqual(await s.exited, { code: 0, signal: null });
      }
    });

    test("lists and calls every tool through the SDK client", async () => {
      const { client } = await connectClient(install, home, args);
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), TOOLS);
      for (const t of tools) {
        assert.equal(t.inputSchema.type, "object");
        assert.ok(t.description && t.description.length > 20, `${t.name} has a description`);
        assert.equal(t.annotations?.readOnlyHint, true);
      }

      const echo = await client.callTool({ name: "echo", arguments: { message: "hello", uppercase: true } });
      assert.deepEqual(echo.content, [{ type: "text", text: "HELLO" }]);

      const calc = await client.callTool({ name: "calculator", arguments: { operation: "subtract", a: 10, b: 4.5 } });
      assert.deepEqual(calc.structuredContent, { result: 5.5, expression: "10 - 4.5" });
      const div0 = await client.callTool({ name: "calculator", arguments: { operation: "divide", a: 1, b: 0 } });
      assert.equal(div0.isError, true);
      const badArgs = await client.callTool({ name: "calculator", arguments: { operation: "power", a: 1, b: 2 } });
      assert.equal(badArgs.isError, true);
      assert.match(JSON.stringify(badArgs.content), /operation/);

      const info = await client.callTool({ name: "system_info", arguments: { info_type: "platform" } });
      assert.match(JSON.stringify(info.content), /linux/);

      const health = await client.callTool({ name: "health_check", arguments: { check_type: "tools" } });
      assert.notEqual(health.isError, true);
      assert.match(JSON.stringify(health.content), /5 tools served/);

      const dir = mkdtempSync(join(tmpdir(), "cmg-doc-"));
      const file = join(dir, "doc.md");
      writeFileSync(file, Array.from({ length: 40 }, (_, i) => `Sentence ${i} talks about gateways and locks. It has detail ${i}.`).join("\n\n"));
      const summary = await client.callTool({ name: "document_summarizer", arguments: { file_path: file, mode: "brief" } });
      assert.notEqual(summary.isError, true);
      const sc = summary.structuredContent as { summary_chars: number; original_chars: number };
      assert.ok(sc.summary_chars < sc.original_chars);
      const missing = await client.callTool({ name: "document_summarizer", arguments: { file_path: join(dir, "nope.txt") } });
      assert.equal(missing.isError, true);
      const isDir = await client.callTool({ name: "document_summarizer", arguments: { file_path: dir } });
      assert.equal(isDir.isError, true);

      const unknown = await client.callTool({ name: "no_such_tool", arguments: {} });
      assert.equal(unknown.isError, true);
      await client.close();
    });

    test("a malformed line gets a JSON-RPC error and the session goes on", async () => {
      const s = new RawSession(install, home, args);
      await s.initialize();
      s.write("{this is not json\n");
      const err = await s.next();
      assert.equal(err.id, null);
      assert.equal((err.error as { code: number }).code, -32700);
      s.write('{"jsonrpc":"2.0","id":7}\n');
      const invalid = await s.next();
      assert.equal((invalid.error as { code: number }).code, -32600);
      const ok = await s.request(2, "tools/call", { name: "echo", arguments: { message: "still here" } });
      assert.deepEqual((ok.result as { content: unknown }).content, [{ type: "text", text: "still here" }]);
      s.end();
      assert.deepEqual(await s.exited, { code: 0, signal: null });
      assert.equal(s.unread, 0);
    });

    test("stdin EOF ends the process with exit 0", async (t) => {
      const s = new RawSession(install, home, args);
      await s.initialize();
      const t0 = Date.now();
      s.end();
      // Bounded, not timed: a process that did not end on EOF would run on (the other test file of a
      // --test-concurrency=2 run can start 20 processes at once, so how long an exit takes is the machine's).
      assert.deepEqual(await s.exitedWithin(10_000), { code: 0, signal: null });
      t.diagnostic(`exited ${Date.now() - t0} ms after EOF`);
    });
  });
}

describe("a fresh home", () => {
  test("--standalone on a home with no state dir yet: it is made (0700) and stderr says nothing, no warning about the signing key", async () => {
    const home = tempHome();
    const s = new RawSession(install, home, ["--standalone"], { CLAUDE_MPM_LOG_LEVEL: "info" });
    await s.initialize();
    const ok = await s.request(2, "tools/call", { name: "echo", arguments: { message: "fresh" } });
    assert.deepEqual((ok.result as { content: unknown }).content, [{ type: "text", text: "fresh" }]);
    s.end();
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    assert.doesNotMatch(s.stderr, /WARN|ERROR|signing key/, s.stderr);
    assert.equal(statSync(join(home, "mcp")).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, "mcp", "request-state.key")).mode & 0o777, 0o600);
    await expectNoProcessLeft(install.bin);
  });
});
