// A person who runs the binary in a terminal is told what it is; a client on pipes hears nothing but protocol.
// The terminal is a real pty, made by util-linux's `script` (in Debian's essential set).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { expectNoProcessLeft, gatewayEnv, installBinary, run, tempHome, waitFor, stopGateway, type Install } from "./harness.js";

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "tty", version: "1" } },
});

let install: Install;
before(() => (install = installBinary()));
after(() => install.cleanup());

const hasScript = spawnSync("script", ["--version"]).status === 0;

test("in a terminal: a notice on stderr, and a client that speaks is still served", { skip: !hasScript && "no util-linux script" }, async () => {
  const home = tempHome();
  const env = gatewayEnv(install, home);
  // `script` gives the binary a pty as stdin and stdout (what it prints comes out on script's stdout); its
  // stderr goes to a file, to prove the notice is there and not in the protocol stream.
  const errFile = join(home, "stderr.txt");
  const term = spawn("script", ["-qfc", `exec '${install.bin}' 2>'${errFile}'`, "/dev/null"], {
    env: { ...env, PATH: `${install.dir}:/usr/bin:/bin`, SHELL: "/bin/sh" },
  });
  let screen = "";
  term.stdout.on("data", (d: Buffer) => (screen += d.toString("utf8")));
  const exited = new Promise<number | null>((r) => term.on("close", r));
  const stderr = () => (existsSync(errFile) ? readFileSync(errFile, "utf8") : "");
  try {
    await waitFor("the terminal notice", () => stderr().includes("--help"), 15_000);
    const notice = stderr();
    assert.match(notice, /^claude-mpm-gateway: this is an MCP server, waiting for an MCP client to speak JSON-RPC on stdin/);
    assert.match(notice, /launch "claude-mpm-gateway" as a stdio server/);
    assert.match(notice, /`claude-mpm-gateway --help` lists the commands; `claude-mpm-gateway status` shows the running gateway\.\n$/);
    assert.ok(notice.split("\n").length <= 4, `a line or three, got:\n${notice}`);

    term.stdin.write(INIT + "\n");
    await waitFor("the initialize result", () => screen.includes('"serverInfo"'), 15_000);
    const reply = screen.split(/\r?\n/).find((l) => l.includes('"serverInfo"'))!;
    assert.equal((JSON.parse(reply) as { id: number }).id, 1);
    assert.doesNotMatch(screen, /MCP server, waiting/, "the notice is not on stdout");

    term.stdin.write("\x04"); // Ctrl-D: end of input at the terminal ends the bridge
    assert.equal(await exited, 0);
  } finally {
    term.kill("SIGKILL");
    stopGateway(install, home);
  }
  await expectNoProcessLeft(install.bin);
});

test("in a terminal with the HTTP endpoint on: the notice names its URL", { skip: !hasScript && "no util-linux script" }, async () => {
  const home = tempHome();
  mkdirSync(join(home, "mcp"), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, "mcp", "config.json"), JSON.stringify({ http: { port: 0 }, mcpServers: {} }));
  // The gateway already runs (its endpoint keeps it up), so the notice need not wait for a start.
  assert.equal(run(install, home, ["restart"]).status, 0);
  const errFile = join(home, "stderr.txt");
  const term = spawn("script", ["-qfc", `exec '${install.bin}' 2>'${errFile}'`, "/dev/null"], {
    env: { ...gatewayEnv(install, home), PATH: `${install.dir}:/usr/bin:/bin`, SHELL: "/bin/sh" },
  });
  term.stdout.resume();
  const exited = new Promise<number | null>((r) => term.on("close", r));
  const stderr = () => (existsSync(errFile) ? readFileSync(errFile, "utf8") : "");
  try {
    await waitFor("the terminal notice", () => stderr().includes("--help"), 15_000);
    const url = (JSON.parse(readFileSync(join(home, "mcp", "gateway.json"), "utf8")) as { http_url: string }).http_url;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    assert.ok(stderr().includes(`or connect to ${url} with the bearer token in the state dir`), stderr());
    term.stdin.write("\x04");
    assert.equal(await exited, 0);
  } finally {
    term.kill("SIGKILL");
    stopGateway(install, home);
  }
  await expectNoProcessLeft(install.bin);
});

test("on pipes (a client): no notice, stderr stays empty", async () => {
  const home = tempHome();
  const child = spawn(install.bin, [], { env: gatewayEnv(install, home) });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  try {
    child.stdin.write(INIT + "\n");
    await waitFor("the initialize result", () => stdout.includes('"serverInfo"'), 15_000);
    child.stdin.end();
    await new Promise((r) => child.on("close", r));
    assert.equal(stderr, "");
  } finally {
    child.kill("SIGKILL");
    stopGateway(install, home);
  }
  await expectNoProcessLeft(install.bin);
});
