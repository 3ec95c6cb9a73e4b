// Another local user against a running gateway, measured: the attacker runs as `nobody` (setpriv), as the
// review that found abstract-name squatting and the pre-authentication flood did. Also one primary per
// state dir whatever the path or network namespace, and `install` over files it must not take over.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import {
  connectClient,
  echoThrough,
  expectNoProcessLeft,
  gatewayEnv,
  installBinary,
  killProcessesOf,
  listeningUnixPaths,
  primaries,
  run,
  servingPid,
  sleep,
  stateDirOf,
  stateFiles,
  stopGateway,
  tempHome,
  waitFor,
  type Install,
} from "./harness.js";

const NOBODY = 65534;
const asRoot = process.platform === "linux" && process.getuid?.() === 0;
const needsRoot = asRoot ? false : "needs root (CI runs as root) to run the attacker as nobody";
const SETPRIV = spawnSync("sh", ["-c", "command -v setpriv"], { encoding: "utf8" }).stdout.trim();
const hasSetpriv = SETPRIV !== "";
const attackerSkip = needsRoot || (hasSetpriv ? false : "setpriv (util-linux) is not installed");

let install: Install;
before(() => {
  install = installBinary();
  // The attacker (nobody) must be able to run node; the binary's folder stays the test's own.
});
after(() => install.cleanup());
afterEach(() => killProcessesOf(install.bin));

/**
 * Runs `script` in node as nobody. It gets `targets` as JSON in argv, prints one JSON line of results, then
 * keeps whatever it bound until its stdin closes.
 */
function asNobody(script: string, targets: unknown): { result: Promise<Record<string, string>>; stop(): void } {
  const child = spawn(SETPRIV, ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", process.execPath, "-e", script, JSON.stringify(targets)], {
    stdio: ["pipe", "pipe", "inherit"],
    cwd: "/",
  });
  let out = "";
  const result = new Promise<Record<string, string>>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl !== -1) resolve(JSON.parse(out.slice(0, nl)) as Record<string, string>);
    });
    child.once("exit", (code) => reject(new Error(`attacker exited ${code} before reporting: ${out}`)));
  });
  return { result, stop: () => child.stdin.end() };
}

// Binds every target as a path socket and as the abstract name of the same text (what the old design used),
// and reports per target what the kernel said.
const SQUAT = `
const net = require("node:net");
const targets = JSON.parse(process.argv[1]);
const results = {};
const held = [];
const bind = (addr) => new Promise((r) => { const s = net.createServer(); s.once("error", (e) => r(e.code)); s.listen(addr, () => { held.push(s); r("bound"); }); });
(async () => {
  for (const t of targets) {
    results[t] = await bind(t);
    results["@" + t] = await bind("\\0" + t);
  }
  process.stdout.write(JSON.stringify(results) + "\\n");
  process.stdin.on("end", () => process.exit(0)).resume();
})();
`;

// Opens n connections to the target at once and reports how each attempt ended.
const FLOOD = `
const net = require("node:net");
const [target, n] = JSON.parse(process.argv[1]);
const counts = {};
let left = n;
for (let i = 0; i < n; i++) {
  const s = net.connect(target);
  const done = (why) => { if (s.done) return; s.done = true; counts[why] = (counts[why] || 0) + 1; if (--left === 0) process.stdout.write(JSON.stringify(counts) + "\\n"); };
  s.once("connect", () => done("connected"));
  s.once("error", (e) => done(e.code));
}
process.stdin.on("end", () => process.exit(0)).resume();
`;

/** Every listening Unix socket the gateway of `home` uses right now, as /proc/net/unix shows them. */
function namesInUse(home: string): string[] {
  const dir = stateDirOf(home);
  return listeningUnixPaths().filter((p) => p.startsWith(dir) || p.includes("claude-mpm"));
}

describe("another local user (nobody)", () => {
  test("squatting every name the gateway uses while none runs: the next client is still served", { skip: attackerSkip }, async (t) => {
    const home = tempHome();
    const first = await connectClient(install, home);
    await echoThrough(first.client, "before");
    const names = namesInUse(home);
    assert.ok(names.length >= 1, "the primary listens on a socket file");
    assert.ok(names.every((n) => n.startsWith(stateDirOf(home))), `every name is a path in the 0700 state dir: ${names.join(", ")}`);
    await first.client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);

    const squatter = asNobody(SQUAT, names);
    try {
      const result = await squatter.result;
      t.diagnostic(`squatter: ${JSON.stringify(result)}`);
      for (const name of names) assert.equal(result[name], "EACCES", `nobody cannot bind ${name}`);
      // The abstract twins bind (anyone can bind any abstract name), and are simply not used any more.
      const { client } = await connectClient(install, home);
      await echoThrough(client, "served despite the squatter");
      assert.equal(servingPid(install, home) > 0, true);
      await client.close();
    } finally {
      squatter.stop();
    }
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  test("1,000 connections from nobody are refused by the kernel; 1,000 from the user without the token leave the primary bounded and serving", { skip: attackerSkip, timeout: 120_000 }, async (t) => {
    const home = tempHome();
    const { client } = await connectClient(install, home);
    await echoThrough(client, "before");
    const pid = servingPid(install, home);
    const endpoint = namesInUse(home)[0]!;
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    const baseline = fds();

    const nobody = asNobody(FLOOD, [endpoint, 1000]);
    const fromNobody = await nobody.result;
    nobody.stop();
    t.diagnostic(`nobody's 1000 connects: ${JSON.stringify(fromNobody)}`);
    assert.deepEqual(fromNobody, { EACCES: 1000 });

    // The same user without the token: connections that never say hello, all at once, held open.
    let maxFds = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxFds = Math.max(maxFds, fds());
        await sleep(10);
      }
    })();
    const sockets: Socket[] = [];
    const closedByPrimary = { n: 0 };
    for (let i = 0; i < 1000; i++) {
      const s = connect(endpoint);
      s.on("error", () => {});
      s.on("close", () => closedByPrimary.n++);
      sockets.push(s);
    }
    const t0 = Date.now();
    // The owner's client, meanwhile: a new one (a bridge and a handshake) and the one already connected.
    const second = await connectClient(install, home);
    await echoThrough(second.client, "during the flood");
    await echoThrough(client, "still served");
    const servedMs = Date.now() - t0;
    await waitFor("the primary to close the flood (cap, then the handshake deadline)", () => closedByPrimary.n === 1000, 30_000);
    sampling = false;
    await sampler;
    sockets.forEach((s) => s.destroy());
    t.diagnostic(`owner served in ${servedMs} ms during the flood; primary fds: ${baseline} before, at most ${maxFds} during`);
    // Served at all is the check: a bridge kept out by the flood gives its client an error at its start deadline.
    // 32 unauthenticated connections at most, plus the second client's own: bounded, not ~1000.
    assert.ok(maxFds <= baseline + 32 + 16, `fds stayed bounded: ${baseline} -> ${maxFds}`);
    // Refusals are summed, not logged one line each.
    await sleep(500);
    const refusals = readFileSync(stateFiles(home).log, "utf8").split("\n").filter((l) => /refused \d+ unauthenticated/.test(l));
    t.diagnostic(`log lines about refusals: ${refusals.length}`);
    assert.ok(refusals.length >= 1 && refusals.length <= 5, refusals.join("\n"));
    await second.client.close();
    await client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("one primary per state dir, whatever the path", () => {
  test("the same dir through a symlinked CLAUDE_MPM_HOME: one primary serves both", async () => {
    const real = tempHome();
    const link = `${real}-link`;
    symlinkSync(real, link);
    const a = await connectClient(install, real);
    const b = await connectClient(install, link);
    await echoThrough(a.client, "a");
    await echoThrough(b.client, "b");
    assert.equal(servingPid(install, link), servingPid(install, real));
    assert.equal(primaries(install.bin).length, 1);
    await a.client.close();
    await b.client.close();
    stopGateway(install, real);
    await expectNoProcessLeft(install.bin);
  });

  test("a primary whose socket file is deleted steps down, and the next client starts a new one", { timeout: 60_000 }, async () => {
    const home = tempHome();
    const a = await connectClient(install, home);
    await echoThrough(a.client, "first");
    const old = servingPid(install, home);
    // What a logout emptying $XDG_RUNTIME_DIR, or a user cleaning up, does.
    unlinkSync(namesInUse(home)[0]!);
    await waitFor("the orphaned primary to exit", () => !primaries(install.bin).includes(old), 30_000);
    const b = await connectClient(install, home);
    await echoThrough(b.client, "a new primary");
    assert.notEqual(servingPid(install, home), old);
    await a.client.close();
    await b.client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });

  const unshareWorks = asRoot && spawnSync("unshare", ["-n", "true"]).status === 0;
  test("a client in another network namespace (unshare -n) reaches the same primary", { skip: unshareWorks ? false : "unshare -n needs root" }, async () => {
    const home = tempHome();
    const a = await connectClient(install, home);
    await echoThrough(a.client, "host namespace");
    const pid = servingPid(install, home);
    const transport = new StdioClientTransport({ command: "/usr/bin/unshare", args: ["-n", install.bin], env: gatewayEnv(install, home), stderr: "pipe" });
    const b = new Client({ name: "netns", version: "1.0.0" });
    await b.connect(transport);
    await echoThrough(b, "other namespace");
    const inside = spawnSync("/usr/bin/unshare", ["-n", install.bin, "status", "--json"], { env: gatewayEnv(install, home), encoding: "utf8" });
    assert.equal(inside.status, 0, inside.stderr);
    assert.equal((JSON.parse(inside.stdout) as { pid: number }).pid, pid);
    assert.deepEqual(primaries(install.bin), [pid]);
    await b.close();
    await a.client.close();
    stopGateway(install, home);
    await expectNoProcessLeft(install.bin);
  });
});

describe("install over files it must not take over", () => {
  const odd = `{
  // Cursor settings
  "big": 12345678901234567890,
  "f": 1.0,   "compact": {"a":[1,2]},
  "mcpServers": {
    "a": {"command": "a", "env": {"X": "1"}} // the user's server
  }
}
`;

  test("a config with big integers, 1.0, comments and odd layout: only the entry is inserted", () => {
    const home = tempHome();
    const file = join(home, ".cursor", "mcp.json");
    mkdirSync(join(home, ".cursor"));
    writeFileSync(file, odd, { mode: 0o640 });
    chmodSync(file, 0o640);
    const r = run(install, home, ["install", "--client", "cursor"]);
    assert.equal(r.status, 0, r.stderr);
    // Every byte before and after the inserted entry is the user's, unchanged.
    const at = odd.indexOf("}} // the user") + 2;
    const text = readFileSync(file, "utf8");
    assert.equal(text.slice(0, at), odd.slice(0, at));
    assert.ok(text.endsWith(odd.slice(at)), text);
    const inserted = text.slice(at, text.length - odd.slice(at).length);
    assert.match(inserted, /^,\n {4}"claude-mpm-gateway": \{\n {6}"command": /);
    assert.equal((JSON.parse(`{${inserted.slice(1)}}`) as Record<string, { command: string }>)["claude-mpm-gateway"]!.command, install.bin);
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.equal(run(install, home, ["uninstall", "--client", "cursor"]).status, 0);
    assert.equal(readFileSync(file, "utf8"), odd, "uninstall gives back every byte");
  });

  test("as root over a user's file: written, and given back to that user with its mode", { skip: needsRoot }, () => {
    const home = tempHome();
    const file = join(home, ".cursor", "mcp.json");
    mkdirSync(join(home, ".cursor"));
    writeFileSync(file, odd, { mode: 0o600 });
    chownSync(file, NOBODY, NOBODY);
    const r = run(install, home, ["install", "--client", "cursor"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /owner kept: uid 65534, gid 65534\)/);
    const st = statSync(file);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [NOBODY, NOBODY, 0o600]);
    const backup = readdirSync(join(home, ".cursor")).find((f) => f.endsWith(".bak"))!;
    assert.equal(statSync(join(home, ".cursor", backup)).uid, NOBODY);
  });

  test("as a user over a file of someone else's in their own folder: refused, untouched", { skip: attackerSkip }, () => {
    const home = tempHome();
    const dir = join(home, ".cursor");
    mkdirSync(dir);
    const file = join(dir, "mcp.json");
    writeFileSync(file, odd, { mode: 0o644 });
    chmodSync(file, 0o644);
    // nobody's home: the folder is theirs, the file root's.
    chownSync(home, NOBODY, NOBODY);
    chownSync(dir, NOBODY, NOBODY);
    chmodSync(install.dir, 0o755);
    try {
      const r = spawnSync(SETPRIV, ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", install.bin, "install", "--client", "cursor"], {
        env: gatewayEnv(install, home),
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`${file.replace(/[.]/g, "\\.")} belongs to uid 0, not to you \\(uid 65534\\): run install as that user; the file was left untouched`));
      assert.equal(readFileSync(file, "utf8"), odd);
      assert.deepEqual(readdirSync(dir), ["mcp.json"]);
    } finally {
      chmodSync(install.dir, 0o700);
    }
  });
});
