// `install` as a user runs it: the binary edits Claude Desktop's config in a temporary HOME, and the entry it
// wrote launches a working gateway when started the way Claude Desktop starts it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { expectNoProcessLeft, installBinary, run, stopGateway, tempHome, type Install } from "./harness.js";

// The harness finds processes through /proc.
const skip = process.platform !== "linux" ? "the e2e harness is Linux-only" : false;

let install: Install;
before(() => {
  if (!skip) install = installBinary();
});
after(() => install?.cleanup());

const configOf = (home: string) => join(home, ".config", "Claude", "claude_desktop_config.json");
const backupsOf = (file: string) => readdirSync(dirname(file)).filter((f) => f.endsWith(".bak"));

function seed(home: string, value: unknown): string {
  const file = configOf(home);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(value, null, 2));
  return file;
}

const USER_CONFIG = {
  globalShortcut: "Ctrl+Alt+Space",
  mcpServers: { memory: { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"], env: { A: "1" } } },
};

describe("install --client claude-desktop", { skip }, () => {
  const home = tempHome();
  let file: string;
  after(async () => {
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("adds the binary's absolute path beside the user's settings, with a backup", () => {
    file = seed(home, USER_CONFIG);
    const before = readFileSync(file, "utf8");
    const r = run(install, home, ["install", "--client", "claude-desktop"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const [backup] = backupsOf(file);
    assert.ok(backup, "a backup was made");
    assert.equal(readFileSync(join(dirname(file), backup), "utf8"), before);
    assert.equal(
      r.stdout,
      `claude-desktop: added claude-mpm-gateway to ${file} (backup: ${join(dirname(file), backup)})\nRestart Claude Desktop to pick up the change.\n`,
    );
    const written = JSON.parse(readFileSync(file, "utf8"));
    assert.deepEqual(written, { ...USER_CONFIG, mcpServers: { ...USER_CONFIG.mcpServers, "claude-mpm-gateway": { command: install.bin } } });
  });

  test("the entry it wrote starts a gateway that answers initialize and a tool call, as Claude Desktop would launch it", async () => {
    const entry = JSON.parse(readFileSync(file, "utf8")).mcpServers["claude-mpm-gateway"] as { command: string; args?: string[] };
    // Claude Desktop passes the entry's command, args and env, over a minimal environment: no node on PATH.
    const transport = new StdioClientTransport({
      command: entry.command,
      args: entry.args ?? [],
      env: { HOME: home, PATH: "/usr/bin:/bin", CLAUDE_MPM_HOME: home, CLAUDE_MPM_GATEWAY_LINGER_MS: "1500" },
      stderr: "pipe",
    });
    const client = new Client({ name: "claude-ai", version: "0.1.0" });
    await client.connect(transport);
    assert.equal(client.getServerVersion()?.name, "claude-mpm-gateway");
    const echo = await client.callTool({ name: "echo", arguments: { message: "installed" } });
    assert.deepEqual(echo.content, [{ type: "text", text: "installed" }]);
    await client.close();
  });

  test("a second install changes nothing and makes no new backup", () => {
    const text = readFileSync(file, "utf8");
    const r = run(install, home, ["install", "--client", "claude-desktop"]);
    assert.deepEqual(r, { status: 0, stdout: `claude-desktop: claude-mpm-gateway already installed in ${file}\n`, stderr: "" });
    assert.equal(readFileSync(file, "utf8"), text);
    assert.equal(backupsOf(file).length, 1);
  });

  test("uninstall removes only our entry", () => {
    const r = run(install, home, ["uninstall", "--client", "claude-desktop"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^claude-desktop: removed claude-mpm-gateway from .*claude_desktop_config\.json \(backup: .*\.bak\)\n/);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), USER_CONFIG);
  });
});

describe("install refuses or only shows", { skip }, () => {
  test("a malformed config: exit 1, the file and the problem on stderr, the file untouched", () => {
    const home = tempHome();
    const file = configOf(home);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '{ "mcpServers": { "a": { "command": "x" } ');
    const r = run(install, home, ["install", "--client", "claude-desktop"]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^claude-mpm-gateway: ${file.replace(/[.]/g, "\\.")} is not valid JSON .*left untouched\n$`));
    assert.equal(readFileSync(file, "utf8"), '{ "mcpServers": { "a": { "command": "x" } ');
    assert.deepEqual(backupsOf(file), []);
  });

  test("--dry-run prints the entry and writes nothing", () => {
    const home = tempHome();
    const r = run(install, home, ["install", "--client", "claude-desktop", "--dry-run"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        `claude-desktop: would add claude-mpm-gateway to ${configOf(home)} (new file)`,
        '  + "claude-mpm-gateway": {',
        `  +   "command": "${install.bin}"`,
        "  + }",
        "",
      ].join("\n"),
    );
    assert.equal(existsSync(join(home, ".config")), false);
  });

  test("with no client installed and no --client, it says where it looked and exits 1", () => {
    const r = run(install, tempHome(), ["install"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no MCP client found \(looked for .*\.config\/Claude.*\); name one with --client/);
  });
});
