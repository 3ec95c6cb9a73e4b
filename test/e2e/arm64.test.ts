// The linux-arm64 release binary, run here: cross-built by build.mjs and started under qemu-user, it must do
// what the native binary does — version, status, a real client's session, five clients racing to start one
// primary, a takeover after kill -9. Emulation makes every start ~10× slower, so bounds are generous and
// nothing here is timed. Skips (with the reason) only where qemu cannot be installed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import {
  bridges,
  echoThrough,
  expectNoProcessLeft,
  expectPrimaries,
  gatewayEnv,
  installBinary,
  killProcessesOf,
  processesOf,
  readGatewayJson,
  tempHome,
  waitFor,
  watchdogs,
  type Install,
  type RunResult,
} from "./harness.js";
import { ensureArm64Emulation } from "./emulation.js";

const VERSION = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
const emulation = ensureArm64Emulation();
const skip = emulation.mode === "none" ? `linux-arm64 not run: ${emulation.reason}` : false;
// Without binfmt_misc a bridge cannot exec its own arm64 file to start a primary: those tests need the kernel's help.
const needsBinfmt = emulation.mode === "qemu" ? "binfmt_misc cannot be used here (not root?): a bridge cannot start an arm64 primary" : false;
// A primary under emulation on a busy 2-core machine takes 10–15 s to answer (natively ~0.2 s): clients wait
// longer for it, and it lingers long enough after a client leaves that `stop` still finds it.
const qemuEnv = { ...(emulation.mode === "none" ? {} : emulation.env), CLAUDE_MPM_GATEWAY_START_TIMEOUT_MS: "90000", CLAUDE_MPM_GATEWAY_LINGER_MS: "120000" };

let install: Install;
const out = mkdtempSync(join(tmpdir(), "cmg-arm64-"));
after(() => {
  install?.cleanup();
  rmSync(out, { recursive: true, force: true });
});

/** The command line that runs the arm64 binary: directly when the kernel knows qemu, else through qemu. */
function command(args: string[]): [string, string[]] {
  return emulation.mode === "binfmt" ? [install.bin, args] : [emulation.mode === "qemu" ? emulation.qemu : "false", [install.bin, ...args]];
}

function runArm(home: string, args: string[]): Promise<RunResult> {
  const [cmd, argv] = command(args);
  return collect(cmd, argv, gatewayEnv(install, home, qemuEnv));
}

/** Runs a command to its end (killed after `timeoutMs`), collecting its output. */
function collect(cmd: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

async function connect(home: string): Promise<Client> {
  const [cmd, args] = command([]);
  const transport = new StdioClientTransport({ command: cmd, args, env: gatewayEnv(install, home, qemuEnv), stderr: "pipe" });
  const client = new Client({ name: "arm64-e2e", version: "1.0.0" });
  await client.connect(transport, { timeout: 120_000 });
  return client;
}

async function stop(home: string): Promise<void> {
  const r = await runArm(home, ["stop"]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  await expectNoProcessLeft(install.bin, 30_000);
}

/** Runs a test's body; if it fails, kills what it started so the next test does not find its primary. */
async function cleanly(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    killProcessesOf(install.bin);
    throw err;
  }
}

/** Without binfmt, the primary is started under qemu by the test, as a bridge would have started it. */
async function startPrimaryByHand(home: string): Promise<void> {
  if (emulation.mode !== "qemu") return;
  spawn(emulation.qemu, [install.bin, "--primary"], { env: gatewayEnv(install, home, qemuEnv), detached: true, stdio: "ignore" }).unref();
  await waitFor("the primary to serve", async () => (await runArm(home, ["status"])).status === 0, 120_000);
}

describe("linux-arm64 under qemu-user", { skip }, () => {
  before(async () => {
    for (const note of emulation.notes) console.error(`arm64: ${note}`);
    const file = join(out, "claude-mpm-gateway-linux-arm64");
    const built = await collect(process.execPath, ["build.mjs", "--target", "linux-arm64", "--out", file], process.env, 600_000);
    assert.equal(built.status, 0, built.stderr);
    console.error(`arm64: ${emulation.mode === "binfmt" ? "run through binfmt_misc" : "run as qemu-aarch64 <file>"}; ${built.stderr.match(/Node [^)]*/)?.[0] ?? ""}`);
    install = installBinary(file);
  });

  test("it is an arm64 ELF file, and --version prints the package's version", async () => {
    const header = readFileSync(install.bin).subarray(0, 20);
    assert.equal(header.readUInt16LE(18), 0xb7, "e_machine is EM_AARCH64");
    const r = await runArm(tempHome(), ["--version"]);
    assert.deepEqual(r, { status: 0, stdout: `${VERSION}\n`, stderr: "" });
  });

  test("status says no gateway runs, with exit code 3", async () => {
    const r = await runArm(tempHome(), ["status"]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stdout, /claude-mpm-gateway - not running/);
    assert.equal(r.stderr, "");
  });

  test("a real MCP client's session: list, call, status of the running primary, stop", () =>
    cleanly(async () => {
      const home = tempHome();
      await startPrimaryByHand(home);
      const client = await connect(home);
      try {
        const { tools } = await client.listTools(undefined, { timeout: 120_000 });
        assert.ok(tools.some((t) => t.name === "echo"), tools.map((t) => t.name).join());
        await echoThrough(client, "hello from arm64");
        const status = await runArm(home, ["status", "--json"]);
        assert.equal(status.status, 0, status.stdout + status.stderr);
        const json = JSON.parse(status.stdout) as { pid: number; version: string; sessions: number };
        // The pid status reports is the one arm64 primary left once any loser of the start race (a bridge
        // under emulation starts another when the first is slow to take the lock) has exited.
        await expectPrimaries(install.bin, [json.pid], 60_000);
        assert.equal(json.version, VERSION);
        assert.equal(json.sessions, 1);
      } finally {
        await client.close();
      }
      await stop(home);
    }));

  test("five clients started at once share one primary", { skip: needsBinfmt }, () =>
    cleanly(async () => {
      const home = tempHome();
      const clients = await Promise.all([0, 1, 2, 3, 4].map(() => connect(home)));
      try {
        await Promise.all(clients.map((c, i) => echoThrough(c, `racer ${i}`)));
        const serving = Number(readGatewayJson(home)?.pid);
        // The losers of the lock race exit at once; "at once" under emulation on a busy machine takes a while.
        await expectPrimaries(install.bin, [serving], 60_000);
        // Besides the five bridges, the primary that serves has its watchdog (a loser never starts one).
        assert.equal(bridges(install.bin).length, 5, JSON.stringify(processesOf(install.bin)));
        await waitFor("the serving primary's one watchdog", () => watchdogs(install.bin).length === 1, 60_000);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
      await stop(home);
    }));

  test("kill -9 of the primary: the next call is served by a new primary, in the same session", { skip: needsBinfmt }, () =>
    cleanly(async () => {
      const home = tempHome();
      const client = await connect(home);
      try {
        await echoThrough(client, "before");
        const first = Number(readGatewayJson(home)?.pid);
        // A bridge whose primary has not taken the lock within 2 s starts another: under emulation some are
        // still on their way to losing the lock race.
        await expectPrimaries(install.bin, [first], 60_000);
        // A call in flight when the primary dies is answered with an error (frozen first, so it surely is in
        // flight); once the bridge has said so it knows, and the next call starts the next primary.
        process.kill(first, "SIGSTOP");
        const inFlight = client.callTool({ name: "echo", arguments: { message: "in flight" } }, { timeout: 120_000 });
        await new Promise((r) => setTimeout(r, 2000));
        process.kill(first, "SIGKILL");
        await assert.rejects(inFlight, (err: { code?: number }) => err.code === -32603);
        await echoThrough(client, "after");
        const second = Number(readGatewayJson(home)?.pid);
        assert.notEqual(second, first);
        await expectPrimaries(install.bin, [second], 60_000);
        // The killed primary's watchdog saw its pipe close and left; only the new primary's runs.
        await waitFor("one watchdog, the new primary's", () => watchdogs(install.bin).length === 1, 60_000);
      } finally {
        await client.close();
      }
      await stop(home);
    }));
});
