// `npm run bundle` as Claude Desktop meets its output: the .mcpb validates, unpacks (with mcpb's own unpacker,
// the code Claude Desktop uses) to an executable copy of the binary, and the manifest's command runs it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { unpackExtension } from "@anthropic-ai/mcpb";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { expectNoProcessLeft, stopGateway, tempHome, type Install } from "./harness.js";

const VERSION = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
const TOOLS = ["echo", "calculator", "system_info", "health_check", "document_summarizer"];
const MCPB_CLI = resolve("node_modules", "@anthropic-ai", "mcpb", "dist", "cli", "cli.js");
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

interface Manifest {
  manifest_version: string;
  name: string;
  version: string;
  server: { type: string; entry_point: string; mcp_config: { command: string; args?: string[]; env?: Record<string, string> } };
  tools: Array<{ name: string; description?: string }>;
  compatibility?: { platforms?: string[] };
}

const work = mkdtempSync(join(tmpdir(), "cmg-mcpb-test-"));
const mcpb = join(work, "claude-mpm-gateway-linux-x64.mcpb");
const unpacked = join(work, "unpacked");
let manifest: Manifest;
after(() => rmSync(work, { recursive: true, force: true }));

describe("npm run bundle", { skip: process.platform !== "linux" ? "the harness is Linux-only (/proc)" : false }, () => {
  before(async () => {
    const r = spawnSync(process.execPath, ["scripts/bundle.mjs", "--out", mcpb], { encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^bundle: .*\.mcpb \([\d.]+ MiB from a [\d.]+ MiB binary/m);
    assert.ok(await unpackExtension({ mcpbPath: mcpb, outputDir: unpacked, silent: true }), "mcpb unpacks it");
    manifest = JSON.parse(readFileSync(join(unpacked, "manifest.json"), "utf8")) as Manifest;
  });

  test("the manifest passes `mcpb validate`", () => {
    const r = spawnSync(process.execPath, [MCPB_CLI, "validate", join(unpacked, "manifest.json")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Manifest schema validation passes!/);
  });

  test("the manifest describes a binary server and lists the registry's tools", () => {
    assert.equal(manifest.name, "claude-mpm-gateway");
    assert.equal(manifest.version, VERSION);
    assert.equal(manifest.server.type, "binary");
    assert.equal(manifest.server.entry_point, "server/claude-mpm-gateway");
    assert.equal(manifest.server.mcp_config.command, "${__dirname}/server/claude-mpm-gateway");
    assert.deepEqual(manifest.compatibility?.platforms, ["linux"]);
    assert.deepEqual(manifest.tools.map((t) => t.name), TOOLS);
    for (const t of manifest.tools) assert.ok(t.description && t.description.length > 20, `${t.name} has a description`);
  });

  test("the unpacked entry point is the built binary, executable", () => {
    const bin = join(unpacked, manifest.server.entry_point);
    assert.equal(sha256(bin), sha256(join("dist", "claude-mpm-gateway")));
    assert.equal(statSync(bin).mode & 0o777, 0o755);
  });

  test("Claude Desktop's launch of the manifest's command completes initialize and a tool call", async () => {
    const { command, args = [], env = {} } = manifest.server.mcp_config;
    const bin = command.replace("${__dirname}", unpacked);
    const home = tempHome();
    const install: Install = { dir: join(unpacked, "server"), bin, cleanup: () => undefined };
    try {
      const transport = new StdioClientTransport({
        command: bin,
        args,
        env: { ...env, HOME: home, PATH: "/usr/bin:/bin", CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: "1500" },
        stderr: "pipe",
      });
      const client = new Client({ name: "claude-ai", version: "0.1.0" });
      await client.connect(transport);
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), TOOLS);
      const calc = await client.callTool({ name: "calculator", arguments: { operation: "add", a: 2, b: 3 } });
      assert.deepEqual(calc.structuredContent, { result: 5, expression: "2 + 3" });
      await client.close();
    } finally {
      stopGateway(install, home);
      await expectNoProcessLeft(bin);
    }
  });
});
