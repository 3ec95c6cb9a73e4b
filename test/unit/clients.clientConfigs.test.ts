import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { clientConfigLocation, selectClients, type HostContext } from "../../src/clients/clientConfigs.js";
import { isGatewayError } from "../../src/errors.js";

const mac: HostContext = { platform: "darwin", env: {}, homedir: "/Users/ann" };
const linux: HostContext = { platform: "linux", env: {}, homedir: "/home/ann" };
const windows: HostContext = { platform: "win32", env: { APPDATA: "C:\\Users\\ann\\AppData\\Roaming" }, homedir: "C:\\Users\\ann" };
const file = (client: Parameters<typeof clientConfigLocation>[0], host: HostContext) => clientConfigLocation(client, host).file;

describe("client config paths", () => {
  test("Claude Desktop on macOS lives in Application Support", () => {
    assert.equal(file("claude-desktop", mac), "/Users/ann/Library/Application Support/Claude/claude_desktop_config.json");
  });

  test("Claude Desktop on Windows lives under %APPDATA%, with backslashes, and falls back to the profile", () => {
    assert.equal(file("claude-desktop", windows), "C:\\Users\\ann\\AppData\\Roaming\\Claude\\claude_desktop_config.json");
    assert.equal(file("claude-desktop", { ...windows, env: {} }), "C:\\Users\\ann\\AppData\\Roaming\\Claude\\claude_desktop_config.json");
    assert.equal(file("claude-desktop", { ...windows, env: { APPDATA: "D:\\roam" } }), "D:\\roam\\Claude\\claude_desktop_config.json");
  });

  test("Claude Desktop on Linux follows XDG_CONFIG_HOME when absolute, else ~/.config", () => {
    assert.equal(file("claude-desktop", linux), "/home/ann/.config/Claude/claude_desktop_config.json");
    assert.equal(file("claude-desktop", { ...linux, env: { XDG_CONFIG_HOME: "/xdg" } }), "/xdg/Claude/claude_desktop_config.json");
    for (const bad of ["relative/dir", "", "  "]) {
      assert.equal(file("claude-desktop", { ...linux, env: { XDG_CONFIG_HOME: bad } }), "/home/ann/.config/Claude/claude_desktop_config.json", bad);
    }
  });

  test("Claude Code uses ~/.claude.json, or CLAUDE_CONFIG_DIR when set", () => {
    assert.equal(file("claude-code", mac), "/Users/ann/.claude.json");
    assert.equal(file("claude-code", linux), "/home/ann/.claude.json");
    assert.equal(file("claude-code", windows), "C:\\Users\\ann\\.claude.json");
    assert.equal(file("claude-code", { ...linux, env: { CLAUDE_CONFIG_DIR: "/cfg/claude" } }), "/cfg/claude/.claude.json");
  });

  test("Cursor uses ~/.cursor/mcp.json everywhere", () => {
    assert.equal(file("cursor", mac), "/Users/ann/.cursor/mcp.json");
    assert.equal(file("cursor", linux), "/home/ann/.cursor/mcp.json");
    assert.equal(file("cursor", windows), "C:\\Users\\ann\\.cursor\\mcp.json");
  });
});

describe("choosing clients", () => {
  const present = (...paths: string[]) => (p: string) => paths.includes(p);

  test("with no --client, every client whose config or folder exists, in a fixed order", () => {
    const exists = present("/home/ann/.cursor", "/home/ann/.claude.json");
    assert.deepEqual(selectClients(undefined, linux, exists), ["claude-code", "cursor"]);
    assert.deepEqual(selectClients(undefined, linux, present("/home/ann/.config/Claude")), ["claude-desktop"]);
    assert.deepEqual(selectClients(undefined, linux, present("/home/ann/.claude")), ["claude-code"]);
  });

  test("with no client found, an error names where it looked", () => {
    assert.throws(
      () => selectClients(undefined, linux, present()),
      (err) => isGatewayError(err, "CLIENT_CONFIG") && err.message.includes("/home/ann/.config/Claude") && err.message.includes("--client"),
    );
  });

  test("--client takes a name, a comma list, repeats, or all; regardless of what exists", () => {
    const none = present();
    assert.deepEqual(selectClients("cursor", linux, none), ["cursor"]);
    assert.deepEqual(selectClients("cursor,claude-desktop", linux, none), ["claude-desktop", "cursor"]);
    assert.deepEqual(selectClients(["cursor", "cursor", "claude-code"], linux, none), ["claude-code", "cursor"]);
    assert.deepEqual(selectClients("all", linux, none), ["claude-desktop", "claude-code", "cursor"]);
  });

  test("an unknown client is a usage error", () => {
    assert.throws(() => selectClients("vscode", linux, present()), (err) => isGatewayError(err, "USAGE") && /unknown client "vscode"/.test(err.message));
  });
});
