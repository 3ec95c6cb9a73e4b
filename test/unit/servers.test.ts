// config.json read-modify-write (what `add`/`remove`/`import` rely on) and `import`'s choice of entries.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { statePaths } from "../../src/coordination/paths.js";
import { isGatewayEntry, planImport, readClientServers } from "../../src/downstream/clientImport.js";
import { readConfigDocument, updateConfigFile } from "../../src/downstream/configFile.js";
import { isGatewayError } from "../../src/errors.js";

function freshPaths() {
  const home = mkdtempSync(join(tmpdir(), "cmg-unit-"));
  return statePaths({ CLAUDE_MPM_HOME: home });
}
const mode = (path: string) => statSync(path).mode & 0o777;
const json = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;

describe("config.json read-modify-write", () => {
  test("creates the state dir 0700 and the file 0600 on first add", () => {
    const paths = freshPaths();
    updateConfigFile(paths, (servers) => {
      servers.memory = { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"] };
    });
    assert.equal(mode(paths.stateDir), 0o700);
    assert.equal(mode(paths.configFile), 0o600);
    assert.deepEqual(json(paths.configFile), { mcpServers: { memory: { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"] } } });
    assert.equal(readConfigDocument(paths.configFile).config.mcpServers.memory?.type, "stdio");
  });

  test("keeps the file's unknown keys, at the top and inside entries", () => {
    const paths = freshPaths();
    mkdirSync(paths.stateDir, { recursive: true });
    const before = { $comment: "mine", mcpServers: { a: { command: "a", note: "keep me" } }, extra: [1, 2] };
    writeFileSync(paths.configFile, JSON.stringify(before));
    updateConfigFile(paths, (servers) => {
      servers.b = { url: "https://example.com/mcp" };
    });
    assert.deepEqual(json(paths.configFile), { ...before, mcpServers: { ...before.mcpServers, b: { url: "https://example.com/mcp" } } });
  });

  test("an update that changes nothing leaves the file byte for byte (and creates none)", () => {
    const paths = freshPaths();
    updateConfigFile(paths, (servers) => void delete servers.absent);
    assert.throws(() => statSync(paths.stateDir), /ENOENT/);
    mkdirSync(paths.stateDir, { recursive: true });
    const text = '{"mcpServers":{"a":{"command":"a"}}}';
    writeFileSync(paths.configFile, text);
    updateConfigFile(paths, () => undefined);
    assert.equal(readFileSync(paths.configFile, "utf8"), text);
  });

  for (const [what, text, problem] of [
    ["not JSON", "{ mcpServers: ", /not valid JSON/],
    ["an invalid entry", '{"mcpServers":{"x":{"url":"ftp://x"}}}', /\$\.mcpServers\.x\.url: must be an http\(s\) URL/],
    ["not an object", "[]", /must be an object/],
  ] as const) {
    test(`a malformed config (${what}) is reported with its path and never overwritten`, () => {
      const paths = freshPaths();
      mkdirSync(paths.stateDir, { recursive: true });
      writeFileSync(paths.configFile, text);
      assert.throws(
        () => updateConfigFile(paths, (servers) => void (servers.a = { command: "a" })),
        (err: unknown) => isGatewayError(err, "CONFIG_INVALID") && err.message.startsWith(`${paths.configFile}: `) && problem.test(err.message) && /nothing was changed/.test(err.message),
      );
      assert.equal(readFileSync(paths.configFile, "utf8"), text);
    });
  }

  test("refuses to write an entry the gateway could not load", () => {
    const paths = freshPaths();
    assert.throws(
      () => updateConfigFile(paths, (servers) => void (servers.bad = { command: "x", url: "https://x" })),
      (err: unknown) => isGatewayError(err, "CONFIG_INVALID") && /both "command" and "url"/.test(err.message),
    );
    assert.throws(() => statSync(paths.configFile), /ENOENT/);
  });

  test("writes through a symlinked config.json to its target", () => {
    const paths = freshPaths();
    mkdirSync(paths.stateDir, { recursive: true });
    const target = join(paths.home, "dotfiles-config.json");
    writeFileSync(target, '{"mcpServers":{}}');
    symlinkSync(target, paths.configFile);
    updateConfigFile(paths, (servers) => void (servers.a = { command: "a" }));
    assert.deepEqual(json(target), { mcpServers: { a: { command: "a" } } });
    assert.ok(statSync(paths.configFile).isFile());
  });

  test("a --config outside the state dir gets its folder created", () => {
    const paths = freshPaths();
    const custom = statePaths({ CLAUDE_MPM_HOME: paths.home }, join(paths.home, "elsewhere", "servers.json"));
    updateConfigFile(custom, (servers) => void (servers.a = { command: "a" }));
    assert.deepEqual(json(custom.configFile), { mcpServers: { a: { command: "a" } } });
  });
});

describe("import: which entries are copied", () => {
  const file = "/home/me/.config/Claude/claude_desktop_config.json";

  test("skips the gateway's own entry, by name or by the command's basename on any OS", () => {
    assert.equal(isGatewayEntry("claude-mpm-gateway", { command: "node" }), true);
    assert.equal(isGatewayEntry("gw", { command: "/opt/bin/claude-mpm-gateway" }), true);
    assert.equal(isGatewayEntry("gw", { command: "C:\\Tools\\Claude-MPM-Gateway.EXE" }), true);
    assert.equal(isGatewayEntry("gw", { command: "claude-mpm-gateway" }), true);
    assert.equal(isGatewayEntry("gw", { command: "/opt/claude-mpm-gateway/node" }), false);
    assert.equal(isGatewayEntry("gw", { command: "npx", args: ["claude-mpm-gateway-helper"] }), false);
    assert.equal(isGatewayEntry("gw", { url: "https://x" }), false);
  });

  test("copies new entries as written, reports the skipped ones with a reason", () => {
    const memory = { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"], env: { MEMORY_FILE_PATH: "/tmp/m.json" } };
    const remote = { type: "http", url: "https://example.com/mcp", headers: { Authorization: "Bearer t" } };
    const plan = planImport(
      {
        "claude-mpm-gateway": { command: "/usr/local/bin/claude-mpm-gateway" },
        memory,
        existing: { command: "other" },
        remote,
        legacy: { type: "sse", url: "https://example.com/sse" },
        broken: { args: ["x"] },
      },
      ["existing"],
      file,
    );
    assert.deepEqual(plan.add, [
      ["memory", memory],
      ["remote", remote],
    ]);
    assert.deepEqual(
      plan.skipped.map((s) => [s.name, s.reason.split(":")[0]]),
      [
        ["claude-mpm-gateway", "the gateway itself"],
        ["existing", "already in the gateway's config"],
        ["legacy", "not supported"],
        ["broken", "not supported"],
      ],
    );
    assert.match(plan.skipped[3]!.reason, /needs a "command" \(local server\) or a "url"/);
    assert.ok(!plan.skipped[3]!.reason.includes(file), "the reason does not repeat the file");
  });

  test("entries with ${VAR} placeholders or relative paths are skipped, naming the entry and the value", () => {
    const plan = planImport(
      {
        fs: { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "."] },
        local: { command: "./bin/server" },
        cwd: { command: "node", args: ["/opt/s.js"], cwd: "project" },
        key: { command: "npx", args: ["srv"], env: { API_KEY: "${API_KEY}" } },
        url: { type: "http", url: "https://x/${TENANT:-a}/mcp" },
        fine: { command: "npx", args: ["-y", "pkg@1.0", "--root", "/srv/data", "C:\\data", "--opt=x/y"], cwd: "/abs", env: { A: "$HOME" } },
      },
      [],
      file,
    );
    assert.deepEqual(plan.add.map(([n]) => n), ["fine"]);
    const why = Object.fromEntries(plan.skipped.map((s) => [s.name, s.reason]));
    assert.match(why.fs!, /^args\[2\] is the relative path "\."/);
    assert.match(why.fs!, /your home/);
    assert.match(why.local!, /^command is the relative path "\.\/bin\/server"/);
    assert.match(why.cwd!, /^cwd is the relative path "project"/);
    assert.match(why.key!, /^env\.API_KEY uses \$\{API_KEY\}, which the client expands and the gateway does not/);
    assert.match(why.url!, /^url uses \$\{TENANT:-a\}/);
  });

  test("a missing or malformed client config is an error naming the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "cmg-client-"));
    const path = join(dir, "mcp.json");
    const fails = (pattern: RegExp) => (err: unknown) => isGatewayError(err, "CLIENT_CONFIG") && err.message.includes(path) && pattern.test(err.message);
    assert.throws(() => readClientServers("cursor", path), fails(/^no Cursor config at .*: is Cursor installed/));
    writeFileSync(path, "{,");
    assert.throws(() => readClientServers("cursor", path), fails(/is not valid JSON/));
    writeFileSync(path, '{"mcpServers":[]}');
    assert.throws(() => readClientServers("cursor", path), fails(/"mcpServers" is an array, expected an object/));
    writeFileSync(path, '{"numStartups":3}');
    assert.deepEqual(readClientServers("claude-code", path), {});
    writeFileSync(path, '\uFEFF{"mcpServers":{"a":{"command":"a"}}}'); // Notepad's BOM
    assert.deepEqual(readClientServers("claude-desktop", path), { a: { command: "a" } });
  });
});
