// `add`, `remove`, `list`, `import` as a user runs them: the built binary, a temp HOME and CLAUDE_MPM_HOME.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installBinary, run, tempHome, type Install } from "./harness.js";

const HINT = "A running gateway picks this up without a restart.\n";

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

const configOf = (home: string) => join(home, "mcp", "config.json");
const readConfig = (home: string) => JSON.parse(readFileSync(configOf(home), "utf8")) as unknown;

describe("add, list, remove", () => {
  const home = tempHome();
  const config = configOf(home);

  test("add a local server with env and args", () => {
    const r = run(install, home, ["add", "fs", "--env", "A=1", "--env", "TOKEN=x=y", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", "/tmp/my dir", "--flag"]);
    assert.deepEqual(r, { status: 0, stdout: `added "fs" to ${config}\n${HINT}`, stderr: "" });
    assert.deepEqual(readConfig(home), {
      mcpServers: {
        fs: { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp/my dir", "--flag"], env: { A: "1", TOKEN: "x=y" } },
      },
    });
    assert.equal(statSync(config).mode & 0o777, 0o600);
    assert.equal(statSync(join(home, "mcp")).mode & 0o777, 0o700);
  });

  test("add a remote server with a header", () => {
    const r = run(install, home, ["add", "remote", "--url", "https://example.com/mcp", "--header", "Authorization=Bearer abc"]);
    assert.deepEqual(r, { status: 0, stdout: `added "remote" to ${config}\n${HINT}`, stderr: "" });
    assert.deepEqual((readConfig(home) as { mcpServers: Record<string, unknown> }).mcpServers.remote, {
      url: "https://example.com/mcp",
      headers: { Authorization: "Bearer abc" },
    });
  });

  test("list prints a table without secrets", () => {
    const r = run(install, home, ["list"]);
    assert.deepEqual(r, {
      status: 0,
      stdout: [
        "NAME    TYPE   COMMAND / URL                                                        DISABLED",
        "fs      stdio  npx -y @modelcontextprotocol/server-filesystem '/tmp/my dir' --flag  no",
        "remote  http   https://example.com/mcp                                              no",
        "",
      ].join("\n"),
      stderr: "",
    });
  });

  test("list --json prints the validated servers", () => {
    const r = run(install, home, ["list", "--json"]);
    assert.equal(r.status, 0);
    assert.deepEqual(JSON.parse(r.stdout), {
      fs: {
        type: "stdio",
        command: "npx",
        args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp/my dir", "--flag"],
        env: { A: "1", TOKEN: "x=y" },
        disabled: false,
      },
      remote: { type: "http", url: "https://example.com/mcp", headers: { Authorization: "Bearer abc" }, disabled: false },
    });
  });

  test("adding a name that exists fails and changes nothing; --force replaces it", () => {
    const before = readFileSync(config, "utf8");
    const r = run(install, home, ["add", "fs", "--", "other"]);
    assert.deepEqual(r, { status: 1, stdout: "", stderr: `claude-mpm-gateway: "fs" already exists in ${config}; use --force to replace it\n` });
    assert.equal(readFileSync(config, "utf8"), before);
    const forced = run(install, home, ["add", "fs", "--force", "--", "other"]);
    assert.deepEqual(forced, { status: 0, stdout: `replaced "fs" in ${config}\n${HINT}`, stderr: "" });
    assert.deepEqual((readConfig(home) as { mcpServers: Record<string, unknown> }).mcpServers.fs, { command: "other", args: [] });
  });

  test("usage mistakes exit 2 and write nothing", () => {
    const before = readFileSync(config, "utf8");
    for (const [args, message] of [
      [["add", "x"], /give the server's command after "--"/],
      [["add", "x", "npx", "foo"], /put "--" before the server's command: claude-mpm-gateway add x -- npx foo/],
      [["add", "x", "--url", "file:///etc/passwd"], /--url must be an http\(s\) URL/],
      [["add", "x", "--url", "https://a", "--", "cmd"], /either --url .* or a command/],
      [["add", "x", "--env", "NOEQUALS", "--", "cmd"], /--env expects KEY=VALUE, got "NOEQUALS"/],
      [["add", "", "--", "cmd"], /the server name must not be empty/],
      [["import"], /import needs --from claude-desktop\|claude-code\|cursor/],
      [["import", "--from", "vscode"], /unknown client "vscode"/],
    ] as const) {
      const r = run(install, home, [...args]);
      assert.equal(r.status, 2, args.join(" "));
      assert.equal(r.stdout, "");
      assert.match(r.stderr, message);
    }
    assert.equal(readFileSync(config, "utf8"), before);
  });

  test("remove deletes the server; removing an absent one exits 1", () => {
    const r = run(install, home, ["remove", "remote"]);
    assert.deepEqual(r, { status: 0, stdout: `removed "remote" from ${config}\n${HINT}`, stderr: "" });
    assert.deepEqual(Object.keys((readConfig(home) as { mcpServers: object }).mcpServers), ["fs"]);
    const absent = run(install, home, ["remove", "remote"]);
    assert.deepEqual(absent, {
      status: 1,
      stdout: "",
      stderr: `claude-mpm-gateway: no server named "remote" in ${config}; "claude-mpm-gateway list" shows them\n`,
    });
  });

  test("list with no servers says how to add one", () => {
    const empty = tempHome();
    const r = run(install, empty, ["list"]);
    assert.deepEqual(r, {
      status: 0,
      stdout: `no downstream servers in ${configOf(empty)}; add one with "claude-mpm-gateway add <name> -- <command> [args...]"\n`,
      stderr: "",
    });
  });
});

describe("import --from claude-desktop", () => {
  const home = tempHome();
  const desktop = join(home, ".config", "Claude", "claude_desktop_config.json");
  const config = configOf(home);
  const memory = { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"], env: { MEMORY_FILE_PATH: "/tmp/memory.json" } };
  before(() => {
    mkdirSync(join(home, ".config", "Claude"), { recursive: true });
    writeFileSync(
      desktop,
      JSON.stringify({
        mcpServers: {
          "claude-mpm-gateway": { command: join(install.dir, "claude-mpm-gateway") },
          "gateway-renamed": { command: "/opt/somewhere/claude-mpm-gateway", args: [] },
          memory,
          fs: { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] },
        },
        globalShortcut: "Ctrl+Space",
      }),
    );
    assert.equal(run(install, home, ["add", "fs", "--", "my-own-fs"]).status, 0);
  });

  test("a missing client config is an error naming the file", () => {
    const r = run(install, tempHome(), ["import", "--from", "claude-desktop"]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^claude-mpm-gateway: no Claude Desktop config at \/.*\/\.config\/Claude\/claude_desktop_config\.json: is Claude Desktop installed/);
  });

  test("--dry-run shows the plan and writes nothing", () => {
    const before = readFileSync(config, "utf8");
    const r = run(install, home, ["import", "--from", "claude-desktop", "--dry-run"]);
    assert.deepEqual(r, {
      status: 0,
      stdout: [
        `would import 1 server from Claude Desktop (${desktop}) into ${config}:`,
        "  + memory",
        "  - claude-mpm-gateway: skipped, the gateway itself",
        "  - gateway-renamed: skipped, the gateway itself",
        "  - fs: skipped, already in the gateway's config",
        "",
      ].join("\n"),
      stderr: "",
    });
    assert.equal(readFileSync(config, "utf8"), before);
  });

  test("copies the client's servers, except the gateway and names already present", () => {
    const r = run(install, home, ["import", "--from", "claude-desktop"]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`imported 1 server from Claude Desktop (${desktop}) into ${config}:\n  + memory\n`), r.stdout);
    assert.match(r.stdout, /A running gateway picks this up without a restart\./);
    assert.deepEqual(readConfig(home), { mcpServers: { fs: { command: "my-own-fs", args: [] }, memory } });
    const again = run(install, home, ["import", "--from", "claude-desktop"]);
    assert.equal(again.status, 0);
    assert.match(again.stdout, /^nothing to import from Claude Desktop/);
    assert.match(again.stdout, / {2}- memory: skipped, already in the gateway's config\n/);
  });

  test("a malformed client config is an error naming the file", () => {
    const other = tempHome();
    const path = join(other, ".cursor", "mcp.json");
    mkdirSync(join(other, ".cursor"));
    writeFileSync(path, '{"mcpServers": {');
    const r = run(install, other, ["import", "--from", "cursor"]);
    assert.equal(r.status, 1);
    assert.ok(r.stderr.startsWith(`claude-mpm-gateway: ${path} is not valid JSON`), r.stderr);
  });
});

describe("a malformed gateway config", () => {
  test("is reported with its path by every command and left untouched", () => {
    const home = tempHome();
    const config = configOf(home);
    mkdirSync(join(home, "mcp"), { recursive: true });
    const broken = '{"mcpServers": {"a": {"command": ""}}}';
    writeFileSync(config, broken);
    mkdirSync(join(home, ".cursor"));
    writeFileSync(join(home, ".cursor", "mcp.json"), '{"mcpServers":{"b":{"command":"b"}}}');
    for (const args of [["add", "x", "--", "cmd"], ["remove", "a"], ["list"], ["import", "--from", "cursor"]]) {
      const r = run(install, home, args);
      assert.equal(r.status, 1, args.join(" "));
      assert.equal(r.stdout, "");
      assert.ok(r.stderr.startsWith(`claude-mpm-gateway: ${config}: $.mcpServers.a.command: must be a non-empty string`), r.stderr);
    }
    assert.equal(readFileSync(config, "utf8"), broken);
  });
});
