// install --transport http: the client's entry names the primary's URL and its bearer token instead of a command.
import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { installCommand, type InstallDeps } from "../../src/cli/install.js";
import { statePaths } from "../../src/coordination/paths.js";
import { isGatewayError } from "../../src/errors.js";
import { localHttpEndpoint } from "../../src/http/localEndpoint.js";
import { sessionQueryOf, withSessionQuery } from "../../src/http/sessionQuery.js";
import { cursorNameLimit } from "../../src/profiles/nameLimit.js";

const BIN = "/opt/cmg/claude-mpm-gateway";
const ENDPOINT = { url: "http://127.0.0.1:8765/mcp", token: "tok-0123456789abcdef" };
let home: string;
let lines: string[];
let deps: InstallDeps;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "cmg-install-http-"));
  lines = [];
  deps = {
    host: { platform: "linux", env: {}, homedir: home },
    command: { command: BIN, args: [] },
    out: (l) => lines.push(l),
    now: () => new Date("2026-12-01T10:20:30.456Z"),
    httpEndpoint: () => ENDPOINT,
  };
});

const claudeCode = () => join(home, ".claude.json");
const cursor = () => join(home, ".cursor", "mcp.json");
const servers = (file: string) => JSON.parse(readFileSync(file, "utf8")).mcpServers as Record<string, unknown>;
function put(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(value, null, 2));
}

describe("install --transport http", () => {
  test("Claude Code gets type http, Cursor a url; both with the Authorization header", async () => {
    put(claudeCode(), { mcpServers: {} });
    mkdirSync(join(home, ".cursor"));
    assert.equal(await installCommand("install", { client: "claude-code,cursor", transport: "http" }, deps), 0);
    const header = { Authorization: `Bearer ${ENDPOINT.token}` };
    assert.deepEqual(servers(claudeCode())["claude-mpm-gateway"], { type: "http", url: ENDPOINT.url, headers: header });
    // Cursor counts the entry's name in a tool's name: its limit rides in the URL, as --max-name-length would.
    assert.deepEqual(servers(cursor())["claude-mpm-gateway"], { url: `${ENDPOINT.url}?max_name_length=${cursorNameLimit("claude-mpm-gateway")}`, headers: header });
    assert.equal(statSync(cursor()).mode & 0o777, 0o600, "a new file holding a token is private");
  });

  test("replaces a command entry (and a stale token), keeps the user's other keys of the entry", async () => {
    put(claudeCode(), { mcpServers: { "claude-mpm-gateway": { type: "stdio", command: BIN, args: ["--profile", "x"], timeout: 30 } } });
    await installCommand("install", { client: "claude-code", transport: "http" }, deps);
    assert.deepEqual(servers(claudeCode())["claude-mpm-gateway"], {
      type: "http",
      url: ENDPOINT.url,
      headers: { Authorization: `Bearer ${ENDPOINT.token}` },
      timeout: 30,
    });
    deps.httpEndpoint = () => ({ ...ENDPOINT, token: "new-token-0123456789" });
    await installCommand("install", { client: "claude-code", transport: "http" }, deps);
    assert.deepEqual((servers(claudeCode())["claude-mpm-gateway"] as { headers: unknown }).headers, { Authorization: "Bearer new-token-0123456789" });
    // And back to stdio: no URL or header is left behind.
    await installCommand("install", { client: "claude-code" }, deps);
    assert.deepEqual(servers(claudeCode())["claude-mpm-gateway"], { type: "stdio", command: BIN, timeout: 30 });
  });

  test("--profile goes into the URL's query; a profile config.json lacks is refused first", async () => {
    const config = join(home, "config.json");
    writeFileSync(config, JSON.stringify({ profiles: { lean: { search: true } } }));
    deps.configPath = config;
    put(claudeCode(), { mcpServers: {} });
    await installCommand("install", { client: "claude-code", transport: "http", profile: "lean" }, deps);
    assert.equal((servers(claudeCode())["claude-mpm-gateway"] as { url: string }).url, `${ENDPOINT.url}?profile=lean`);
    await assert.rejects(installCommand("install", { client: "claude-code", transport: "http", profile: "nope" }, deps), /unknown profile "nope"/);
  });

  test("Claude Desktop takes no URL entry: a usage error, its file untouched", async () => {
    const desktop = join(home, ".config", "Claude", "claude_desktop_config.json");
    put(desktop, { mcpServers: {} });
    const before = readFileSync(desktop, "utf8");
    await assert.rejects(installCommand("install", { client: "claude-desktop", transport: "http" }, deps), (e) => isGatewayError(e, "USAGE") && /Connectors|--transport stdio/.test(e.message));
    assert.equal(readFileSync(desktop, "utf8"), before);
  });

  test("an unknown transport, or an endpoint that is off, is refused before any file is touched", async () => {
    await assert.rejects(installCommand("install", { client: "cursor", transport: "sse" }, deps), /--transport must be stdio or http/);
    deps.httpEndpoint = () => {
      throw new Error("the HTTP endpoint is off");
    };
    await assert.rejects(installCommand("install", { client: "cursor", transport: "http" }, deps), /the HTTP endpoint is off/);
    assert.equal(existsSync(cursor()), false);
  });
});

describe("localHttpEndpoint", () => {
  test("a fixed port gives the loopback URL and the token file's token (made 0600 if need be)", () => {
    const paths = statePaths({ CLAUDE_MPM_HOME: home });
    mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    assert.throws(() => localHttpEndpoint(paths), (e) => isGatewayError(e, "USAGE") && /the HTTP endpoint is off: set a fixed port/.test(e.message));
    writeFileSync(paths.configFile, JSON.stringify({ http: { port: 0 } }));
    assert.throws(() => localHttpEndpoint(paths), /port is 0/);
    writeFileSync(paths.configFile, JSON.stringify({ http: { port: 8765 } }));
    const ep = localHttpEndpoint(paths);
    assert.equal(ep.url, "http://127.0.0.1:8765/mcp");
    const file = join(paths.stateDir, "http.token");
    assert.equal(readFileSync(file, "utf8").trim(), ep.token);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(localHttpEndpoint(paths), ep, "the same token next time");
  });
});

describe("the session query", () => {
  test("profile and max_name_length, read back as written; junk ignored", () => {
    const url = withSessionQuery("http://127.0.0.1:8765/mcp", { profile: "a b&c", maxNameLength: 40 });
    assert.equal(url, "http://127.0.0.1:8765/mcp?profile=a+b%26c&max_name_length=40");
    assert.deepEqual(sessionQueryOf(url), { profile: "a b&c", maxNameLength: 40 });
    assert.deepEqual(sessionQueryOf("http://h/mcp?max_name_length=-3&profile="), {});
    assert.deepEqual(sessionQueryOf("http://h/mcp"), {});
    assert.deepEqual(sessionQueryOf(undefined), {});
  });
});
