// install/uninstall in-process against a temporary home: files, backups, modes, symlinks, dry runs, errors.
import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { installCommand, type InstallDeps } from "../../src/cli/install.js";
import { ConcurrentChangeError, readConfigFile, renameWithRetry, writeConfigFile } from "../../src/clients/configFile.js";
import { isGatewayError } from "../../src/errors.js";

const BIN = "/opt/cmg/claude-mpm-gateway";
let home: string;
let lines: string[];
let deps: InstallDeps;
let desktop: string;
let cursor: string;
let claudeCode: string;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "cmg-install-"));
  lines = [];
  deps = {
    host: { platform: "linux", env: {}, homedir: home },
    command: { command: BIN, args: [] },
    out: (l) => lines.push(l),
    now: () => new Date("2026-11-25T10:20:30.456Z"),
    configPath: join(home, "mcp", "config.json"),
  };
  desktop = join(home, ".config", "Claude", "claude_desktop_config.json");
  cursor = join(home, ".cursor", "mcp.json");
  claudeCode = join(home, ".claude.json");
});

function put(file: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}
const backups = (file: string) => readdirSync(dirname(file)).filter((f) => f.endsWith(".bak"));
const servers = (file: string) => JSON.parse(readFileSync(file, "utf8")).mcpServers as Record<string, unknown>;

describe("install", () => {
  test("adds the entry to every client found, backs up existing files, keeps their mode", async () => {
    const original = '{\n  "globalShortcut": "Alt+Space",\n  "mcpServers": {\n    "fs": {\n      "command": "npx"\n    }\n  }\n}\n';
    put(desktop, original, 0o644);
    mkdirSync(join(home, ".cursor"));
    assert.equal(await installCommand("install", {}, deps), 0);

    assert.deepEqual(servers(desktop), { fs: { command: "npx" }, "claude-mpm-gateway": { command: BIN } });
    assert.equal(JSON.parse(readFileSync(desktop, "utf8")).globalShortcut, "Alt+Space");
    assert.equal(statSync(desktop).mode & 0o777, 0o644);
    const bak = join(dirname(desktop), "claude_desktop_config.json.20261125T102030Z.bak");
    assert.deepEqual(backups(desktop), ["claude_desktop_config.json.20261125T102030Z.bak"]);
    assert.equal(readFileSync(bak, "utf8"), original);
    // A backup may hold secrets (API keys in env): private whatever the original's mode.
    assert.equal(statSync(bak).mode & 0o777, 0o600);

    // Cursor had only its folder: a new private file, no backup. Its entry carries its name limit (60 for
    // the entry's name and a tool's together).
    assert.deepEqual(servers(cursor), { "claude-mpm-gateway": { command: BIN, args: ["--max-name-length", "41"] } });
    assert.equal(statSync(cursor).mode & 0o777, 0o600);
    assert.deepEqual(backups(cursor), []);
    assert.deepEqual(lines, [
      `claude-desktop: added claude-mpm-gateway to ${desktop} (backup: ${bak})`,
      `cursor: added claude-mpm-gateway to ${cursor} (new file)`,
      "Restart Claude Desktop, Cursor to pick up the change.",
    ]);
  });

  test("a second install writes nothing and makes no backup", async () => {
    put(desktop, "{}");
    await installCommand("install", { client: "claude-desktop" }, deps);
    const after = readFileSync(desktop, "utf8");
    const mtime = statSync(desktop).mtimeMs;
    lines = [];
    assert.equal(await installCommand("install", { client: "claude-desktop" }, { ...deps, now: () => new Date("2026-11-26T00:00:00Z") }), 0);
    assert.deepEqual(lines, [`claude-desktop: claude-mpm-gateway already installed in ${desktop}`]);
    assert.equal(readFileSync(desktop, "utf8"), after);
    assert.equal(statSync(desktop).mtimeMs, mtime);
    assert.equal(backups(desktop).length, 1);
  });

  test("Claude Code gets a stdio-typed entry beside its other top-level keys", async () => {
    put(claudeCode, JSON.stringify({ numStartups: 12, projects: { "/p": { mcpServers: { local: { command: "l" } } } } }, null, 2), 0o600);
    await installCommand("install", { client: "claude-code", name: "gw" }, deps);
    const data = JSON.parse(readFileSync(claudeCode, "utf8"));
    assert.deepEqual(data.mcpServers, { gw: { type: "stdio", command: BIN } });
    assert.deepEqual(data.projects, { "/p": { mcpServers: { local: { command: "l" } } } });
    assert.equal(data.numStartups, 12);
    assert.equal(statSync(claudeCode).mode & 0o777, 0o600);
  });

  test("--dry-run shows the entry and writes nothing", async () => {
    put(desktop, '{"mcpServers":{}}');
    assert.equal(await installCommand("install", { client: "claude-desktop,cursor", dryRun: true }, deps), 0);
    assert.equal(readFileSync(desktop, "utf8"), '{"mcpServers":{}}');
    assert.deepEqual(backups(desktop), []);
    assert.throws(() => lstatSync(cursor), /ENOENT/);
    assert.deepEqual(lines, [
      `claude-desktop: would add claude-mpm-gateway to ${desktop}`,
      '  + "claude-mpm-gateway": {',
      `  +   "command": "${BIN}"`,
      "  + }",
      `cursor: would add claude-mpm-gateway to ${cursor} (new file)`,
      '  + "claude-mpm-gateway": {',
      `  +   "command": "${BIN}",`,
      '  +   "args": [',
      '  +     "--max-name-length",',
      '  +     "41"',
      "  +   ]",
      "  + }",
    ]);
  });

  test("a symlinked config is edited where it points, and stays a symlink", async () => {
    const real = join(home, "dotfiles", "mcp.json");
    put(real, '{"mcpServers":{}}');
    mkdirSync(join(home, ".cursor"));
    symlinkSync(real, cursor);
    await installCommand("install", { client: "cursor" }, deps);
    assert.ok(lstatSync(cursor).isSymbolicLink());
    assert.equal(readlinkSync(cursor), real);
    assert.deepEqual(servers(real), { "claude-mpm-gateway": { command: BIN, args: ["--max-name-length", "41"] } });
  });

  test("a malformed config is reported and untouched while the other clients are still installed", async () => {
    put(desktop, '{"mcpServers": [');
    put(cursor, '{"mcpServers": "nope"}');
    put(claudeCode, "{}");
    await assert.rejects(installCommand("install", { client: "all" }, deps), (err) => {
      assert.ok(isGatewayError(err, "CLIENT_CONFIG"));
      assert.match(err.message, new RegExp(`${desktop} is not valid JSON`));
      assert.match(err.message, new RegExp(`${cursor}: "mcpServers" is a string`));
      return true;
    });
    assert.equal(readFileSync(desktop, "utf8"), '{"mcpServers": [');
    assert.equal(readFileSync(cursor, "utf8"), '{"mcpServers": "nope"}');
    assert.deepEqual([...backups(desktop), ...backups(cursor)], []);
    assert.deepEqual(Object.keys(servers(claudeCode)), ["claude-mpm-gateway"]);
  });

  test("--profile goes into every client's entry; Cursor's limit counts the entry's name", async () => {
    put(deps.configPath!, JSON.stringify({ profiles: { lean: { search: true } } }));
    put(desktop, "{}");
    put(cursor, "{}");
    await installCommand("install", { client: "claude-desktop,cursor", profile: "lean", name: "gw" }, deps);
    assert.deepEqual(servers(desktop), { gw: { command: BIN, args: ["--profile", "lean"] } });
    assert.deepEqual(servers(cursor), { gw: { command: BIN, args: ["--profile", "lean", "--max-name-length", "57"] } });
  });

  test("--profile naming no profile of the gateway's config is refused before any file changes", async () => {
    put(deps.configPath!, JSON.stringify({ profiles: { lean: { search: true } } }));
    put(desktop, "{}");
    await assert.rejects(
      installCommand("install", { client: "claude-desktop", profile: "coding" }, deps),
      (err) => isGatewayError(err, "PROFILE_UNKNOWN") && err.message === `unknown profile "coding": ${deps.configPath} defines "lean"`,
    );
    assert.equal(readFileSync(desktop, "utf8"), "{}");
    assert.deepEqual(lines, []);
  });

  test("a name outside [A-Za-z0-9_-]{1,64} is a usage error", async () => {
    await assert.rejects(installCommand("install", { client: "cursor", name: "my gateway" }, deps), (err) => isGatewayError(err, "USAGE"));
  });
});

describe("uninstall", () => {
  test("removes only our entry, with a backup; again, says it is not installed", async () => {
    put(desktop, JSON.stringify({ a: 1, mcpServers: { fs: { command: "npx" }, "claude-mpm-gateway": { command: BIN } } }, null, 2));
    assert.equal(await installCommand("uninstall", { client: "claude-desktop" }, deps), 0);
    assert.deepEqual(JSON.parse(readFileSync(desktop, "utf8")), { a: 1, mcpServers: { fs: { command: "npx" } } });
    assert.equal(backups(desktop).length, 1);
    lines = [];
    await installCommand("uninstall", { client: "claude-desktop,cursor" }, deps);
    assert.deepEqual(lines, [`claude-desktop: claude-mpm-gateway not installed in ${desktop}`, `cursor: claude-mpm-gateway not installed in ${cursor}`]);
    assert.throws(() => lstatSync(cursor), /ENOENT/, "uninstall never creates a file");
  });
});

describe("writeConfigFile", () => {
  test("refuses to write when the client saved the file after we read it", () => {
    put(cursor, '{"mcpServers":{}}');
    const snapshot = readConfigFile(cursor);
    writeFileSync(cursor, '{"mcpServers":{"theirs":{"command":"t"}}}');
    assert.throws(() => writeConfigFile(snapshot, "{}"), ConcurrentChangeError);
    assert.equal(readFileSync(cursor, "utf8"), '{"mcpServers":{"theirs":{"command":"t"}}}');
    assert.deepEqual(backups(cursor), []);
  });

  test("keeps the newest three backups, and no temp file", () => {
    put(cursor, "{}");
    for (let i = 1; i <= 5; i++) writeConfigFile(readConfigFile(cursor), `{"a":${i}}`, new Date(`2026-01-02T03:04:0${i}Z`));
    assert.deepEqual(readdirSync(dirname(cursor)).sort(), ["mcp.json", "mcp.json.20260102T030403Z.bak", "mcp.json.20260102T030404Z.bak", "mcp.json.20260102T030405Z.bak"]);
    assert.equal(readFileSync(join(dirname(cursor), "mcp.json.20260102T030405Z.bak"), "utf8"), '{"a":4}');
  });

  test("as root over another user's file: the file and its backup go back to that user, with its mode", { skip: process.geteuid?.() !== 0 && "needs root" }, async () => {
    put(cursor, '{"mcpServers":{}}', 0o600);
    chownSync(cursor, 65534, 65534);
    assert.equal(await installCommand("install", { client: "cursor" }, deps), 0);
    const st = statSync(cursor);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [65534, 65534, 0o600]);
    const bak = join(dirname(cursor), backups(cursor)[0]!);
    assert.deepEqual([statSync(bak).uid, statSync(bak).mode & 0o777], [65534, 0o600]);
    assert.match(lines[0]!, /owner kept: uid 65534, gid 65534\)$/);
  });

  test("never overwrites an earlier backup made in the same second", () => {
    put(cursor, "{}");
    const now = new Date("2026-01-02T03:04:05Z");
    writeConfigFile(readConfigFile(cursor), '{"a":1}', now);
    writeConfigFile(readConfigFile(cursor), '{"a":2}', now);
    assert.deepEqual(backups(cursor).sort(), ["mcp.json.20260102T030405Z-2.bak", "mcp.json.20260102T030405Z.bak"]);
    assert.equal(readFileSync(join(dirname(cursor), "mcp.json.20260102T030405Z.bak"), "utf8"), "{}");
    assert.equal(readFileSync(join(dirname(cursor), "mcp.json.20260102T030405Z-2.bak"), "utf8"), '{"a":1}');
  });
});

describe("renameWithRetry", () => {
  const busy = () => Object.assign(new Error("busy"), { code: "EBUSY" });
  test("on Windows a held target is retried with backoff, then renamed", () => {
    const waits: number[] = [];
    let calls = 0;
    renameWithRetry("a", "b", "win32", () => {
      if (++calls < 4) throw busy();
    }, (ms) => waits.push(ms));
    assert.equal(calls, 4);
    assert.deepEqual(waits, [25, 50, 100]);
  });

  test("bounded: gives up after 8 attempts (about 3 s); elsewhere, no retry", () => {
    let calls = 0;
    assert.throws(() => renameWithRetry("a", "b", "win32", () => {
      calls++;
      throw busy();
    }, () => {}), /busy/);
    assert.equal(calls, 8);
    calls = 0;
    assert.throws(() => renameWithRetry("a", "b", "linux", () => {
      calls++;
      throw busy();
    }, () => {}), /busy/);
    assert.equal(calls, 1);
  });
});
