// Platform selection of the lock and the endpoint. Only Linux runs here: macOS and Windows are checked by
// what they would be given (names, paths, lengths), not by binding them.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stateDirKey } from "../../src/coordination/identity.js";
import { acquireLock, isLockHeld } from "../../src/coordination/lock.js";
import { claimSocket, probeSocket } from "../../src/coordination/pathLock.js";
import { planCoordination } from "../../src/coordination/plan.js";
import { chooseSocketDir, ensurePrivateDir } from "../../src/coordination/socketDir.js";
import { currentSid, pipeBaseName, readOrCreateSecret } from "../../src/coordination/windowsPipe.js";
import { isGatewayError } from "../../src/errors.js";

const STATE = "/home/alice/.claude-mpm/mcp";
const KEY = "0123456789abcdef";
const dirStat = (uid: number, mode: number) => () => ({ uid, mode: 0o40000 | mode, isDirectory: () => true, isSymbolicLink: () => false });

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "cmg-ep-"));
}

describe("stateDirKey", () => {
  test("the same dir reached through a symlink has the same key; another dir another key", () => {
    const root = tempDir();
    try {
      mkdirSync(join(root, "a"));
      mkdirSync(join(root, "b"));
      symlinkSync(join(root, "a"), join(root, "link"));
      assert.equal(stateDirKey(join(root, "link"), "linux"), stateDirKey(join(root, "a"), "linux"));
      assert.notEqual(stateDirKey(join(root, "b"), "linux"), stateDirKey(join(root, "a"), "linux"));
      assert.match(stateDirKey(join(root, "a"), "linux"), /^[0-9a-f]{16}$/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("win32: the real path, case-folded (C:\\Users\\Alice and c:\\users\\alice are one dir)", () => {
    const probe = (p: string) => ({ stat: () => ({ dev: 0, ino: 0 }), realpath: () => p });
    assert.equal(stateDirKey("x", "win32", probe("C:\\Users\\Alice\\.claude-mpm\\mcp")), stateDirKey("y", "win32", probe("c:\\users\\alice\\.claude-mpm\\mcp")));
  });

  test("a missing dir throws ENOENT (the caller resolves the names once it exists)", () => {
    assert.throws(() => stateDirKey("/nonexistent/claude-mpm-test/mcp", "linux"), { code: "ENOENT" });
  });
});

describe("chooseSocketDir", () => {
  const base = { platform: "linux" as const, stateDir: STATE, tmp: "/tmp", uid: 1000 };
  test("$XDG_RUNTIME_DIR/claude-mpm when it is a 0700 dir of ours", () => {
    assert.deepEqual(chooseSocketDir({ ...base, env: { XDG_RUNTIME_DIR: "/run/user/1000" }, lstat: dirStat(1000, 0o700) }), {
      dir: "/run/user/1000/claude-mpm",
      shared: true,
      kind: "runtime",
    });
  });

  test("the state dir when XDG_RUNTIME_DIR is unset, relative, someone else's or open to others", () => {
    const state = { dir: STATE, shared: false, kind: "state" };
    assert.deepEqual(chooseSocketDir({ ...base, env: {} }), state);
    assert.deepEqual(chooseSocketDir({ ...base, env: { XDG_RUNTIME_DIR: "run/user" }, lstat: dirStat(1000, 0o700) }), state);
    assert.deepEqual(chooseSocketDir({ ...base, env: { XDG_RUNTIME_DIR: "/run/user/1000" }, lstat: dirStat(0, 0o700) }), state);
    assert.deepEqual(chooseSocketDir({ ...base, env: { XDG_RUNTIME_DIR: "/run/user/1000" }, lstat: dirStat(1000, 0o755) }), state);
    const missing = () => {
      throw Object.assign(new Error("x"), { code: "ENOENT" });
    };
    assert.deepEqual(chooseSocketDir({ ...base, env: { XDG_RUNTIME_DIR: "/run/user/1000" }, lstat: missing }), state);
  });

  test("a state dir too long for sun_path falls back to claude-mpm-<uid> under the temp dir", () => {
    const long = "/" + "d".repeat(90);
    assert.deepEqual(chooseSocketDir({ ...base, stateDir: long, env: {} }), { dir: "/tmp/claude-mpm-1000", shared: true, kind: "temp" });
    // macOS allows 4 bytes less than Linux.
    const edge = "/" + "d".repeat(107 - "/gateway-spawn.sock.takeover".length - 1);
    assert.equal(chooseSocketDir({ ...base, stateDir: edge, env: {} }).kind, "state");
    assert.equal(chooseSocketDir({ ...base, platform: "darwin", stateDir: edge, env: {} }).kind, "temp");
  });
});

describe("ensurePrivateDir", () => {
  const uid = process.getuid!();
  test("creates a 0700 dir; narrows a dir of ours that others could read", () => {
    const root = tempDir();
    try {
      ensurePrivateDir(join(root, "s"), uid);
      assert.equal(lstatSync(join(root, "s")).mode & 0o777, 0o700);
      mkdirSync(join(root, "r"), { mode: 0o755 });
      chmodSync(join(root, "r"), 0o755);
      ensurePrivateDir(join(root, "r"), uid);
      assert.equal(lstatSync(join(root, "r")).mode & 0o777, 0o700);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("refuses a symlink, a file, a dir others may write and another user's dir", () => {
    const root = tempDir();
    try {
      mkdirSync(join(root, "real"), { mode: 0o700 });
      symlinkSync(join(root, "real"), join(root, "link"));
      writeFileSync(join(root, "file"), "");
      mkdirSync(join(root, "open"));
      chmodSync(join(root, "open"), 0o777);
      const refused = (p: string, why: RegExp) => assert.throws(() => ensurePrivateDir(p, uid), (e: unknown) => isGatewayError(e, "STATE_DIR") && why.test((e as Error).message));
      refused(join(root, "link"), /symbolic link/);
      refused(join(root, "file"), /not a directory/);
      refused(join(root, "open"), /writable by other users/);
      assert.throws(() => ensurePrivateDir(join(root, "real"), uid + 1), /belongs to uid/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("planCoordination", () => {
  test("linux: one socket file is lock and endpoint; the spawn guard is a second one", () => {
    const plan = planCoordination({ platform: "linux", stateDir: STATE, lockFile: `${STATE}/gateway.lock`, dirKey: KEY, socketDir: { dir: STATE, shared: false, kind: "state" } });
    assert.deepEqual(plan.lock, { kind: "socket-file", file: `${STATE}/gateway.sock`, privateDir: undefined, display: `socket ${STATE}/gateway.sock` });
    assert.equal(plan.spawnGuard.kind === "socket-file" && plan.spawnGuard.file, `${STATE}/gateway-spawn.sock`);
    assert.deepEqual(plan.endpoint, { address: `${STATE}/gateway.sock`, display: `${STATE}/gateway.sock`, viaLock: true });
  });

  test("linux: in a shared runtime dir the names carry the dir key, and that dir is checked before binding", () => {
    const plan = planCoordination({ platform: "linux", stateDir: STATE, lockFile: "x", dirKey: KEY, socketDir: { dir: "/run/user/1000/claude-mpm", shared: true, kind: "runtime" } });
    assert.deepEqual(plan.lock, { kind: "socket-file", file: `/run/user/1000/claude-mpm/${KEY}.sock`, privateDir: "/run/user/1000/claude-mpm", display: `socket /run/user/1000/claude-mpm/${KEY}.sock` });
    assert.equal(plan.spawnGuard.kind === "socket-file" && plan.spawnGuard.file, `/run/user/1000/claude-mpm/${KEY}-spawn.sock`);
  });

  test("darwin: flock on gateway.lock, the endpoint a socket file", () => {
    const plan = planCoordination({ platform: "darwin", stateDir: STATE, lockFile: `${STATE}/gateway.lock`, dirKey: KEY, socketDir: { dir: STATE, shared: false, kind: "state" } });
    assert.deepEqual(plan.lock, { kind: "flock", file: `${STATE}/gateway.lock`, display: `flock on ${STATE}/gateway.lock` });
    assert.equal(plan.spawnGuard.kind === "flock" && plan.spawnGuard.file, `${STATE}/gateway.spawn.lock`);
    assert.equal(plan.endpoint.file, `${STATE}/gateway.sock`);
  });

  test("win32: pipes named by SID and secret, with -lock and -spawn for the locks", () => {
    const base = pipeBaseName("S-1-5-21-1-2-3-1001", "ab".repeat(32), KEY);
    const plan = planCoordination({ platform: "win32", stateDir: "C:\\x", lockFile: "C:\\x\\gateway.lock", dirKey: KEY, pipeBase: base });
    assert.equal(plan.endpoint.address, `\\\\.\\pipe\\${base}`);
    assert.equal(plan.lock.kind === "pipe" && plan.lock.address, `\\\\.\\pipe\\${base}-lock`);
    assert.equal(plan.spawnGuard.kind === "pipe" && plan.spawnGuard.address, `\\\\.\\pipe\\${base}-spawn`);
    assert.match(base, /^claude-mpm-gateway-S-1-5-21-1-2-3-1001-[0-9a-f]{24}$/);
    assert.notEqual(pipeBaseName("S-1-5-21-1-2-3-1001", "cd".repeat(32), KEY), base, "another secret, another name");
  });

  test("any other platform is refused with a clear error pointing to --standalone", () => {
    for (const platform of ["freebsd", "aix", "sunos", "openbsd"] as NodeJS.Platform[]) {
      assert.throws(
        () => planCoordination({ platform, stateDir: STATE, lockFile: "x", dirKey: KEY, socketDir: { dir: STATE, shared: false, kind: "state" } }),
        (err: unknown) => isGatewayError(err, "UNSUPPORTED_PLATFORM") && /cannot coordinate on .*--standalone/.test((err as Error).message),
      );
    }
  });
});

describe("windows helpers", () => {
  test("currentSid reads the SID from whoami's CSV; anything else is a clear error", () => {
    assert.equal(currentSid(() => '"desktop-1\\alice","S-1-5-21-111-222-333-1001"\r\n'), "S-1-5-21-111-222-333-1001");
    assert.throws(() => currentSid(() => "Access denied"), /SID/);
  });

  test("the secret is created once, 0600, and read back unchanged", () => {
    const root = tempDir();
    try {
      const file = join(root, "gateway.secret");
      const a = readOrCreateSecret(file);
      assert.match(a, /^[0-9a-f]{64}$/);
      assert.equal(readOrCreateSecret(file), a);
      assert.equal(lstatSync(file).mode & 0o777, 0o600);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/** What SIGKILL leaves: a socket file whose server is gone (libuv removes the bound path on close: relink it). */
async function leaveDeadSocket(file: string): Promise<void> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(file, r));
  linkSync(file, `${file}.keep`);
  await new Promise<void>((r) => server.close(() => r()));
  linkSync(`${file}.keep`, file);
  rmSync(`${file}.keep`);
}

type PipeHandle = { bind(this: unknown, name: string): number; close(): void };
const pipeWrap = () =>
  (process as unknown as { binding(name: string): { Pipe: { new (type: number): PipeHandle; prototype: PipeHandle }; constants: { SERVER: number } } }).binding("pipe_wrap");

/** A socket bound to `path` that never listens: a claimer between bind(2) and listen(2), held there. */
function bindOnly(path: string): { close(): void } {
  const { Pipe, constants } = pipeWrap();
  const handle = new Pipe(constants.SERVER);
  const err = handle.bind(path);
  if (err !== 0) throw new Error(`bind ${path}: ${err}`);
  return { close: () => handle.close() };
}

const inodeOf = (path: string) => {
  try {
    return lstatSync(path).ino;
  } catch {
    return undefined;
  }
};

/**
 * Claims `file` while this process is stalled inside its `nth` bind(2) of a name beside `file` (before its
 * listen(2)) until another process has claimed `file`: the stall a loaded machine can cause (a claimer
 * descheduled between the two calls), made certain. Before that socket listens a connect to it is refused,
 * exactly as to a dead holder's. `survived`: the name the stalled bind created was still its socket (same
 * inode) when it resumed; `state`, the file's as probed while both claimers ran.
 */
async function claimStalledInBind(dir: string, file: string, nth: number): Promise<{ mine: Awaited<ReturnType<typeof claimSocket>>; other: string; survived: boolean; state: string }> {
  const started = join(dir, "started");
  const finished = join(dir, "finished");
  const script = join(dir, "claim.mts");
  writeFileSync(
    script,
    `import { existsSync, renameSync, writeFileSync } from "node:fs";
import { claimSocket } from ${JSON.stringify(new URL("../../src/coordination/pathLock.ts", import.meta.url).pathname)};
process.stdout.write("ready\\n");
while (!existsSync(${JSON.stringify(started)})) await new Promise((r) => setTimeout(r, 5));
const held = await claimSocket(${JSON.stringify(file)});
// Renamed into place: whoever sees the file sees its content.
writeFileSync(${JSON.stringify(`${finished}.tmp`)}, held ? "won" : "lost");
renameSync(${JSON.stringify(`${finished}.tmp`)}, ${JSON.stringify(finished)});
process.stdin.on("end", () => process.exit(0)).resume();
`,
  );
  const other = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((r) => other.once("exit", r));
  const { Pipe } = pipeWrap();
  const bind = Pipe.prototype.bind;
  let mine: Awaited<ReturnType<typeof claimSocket>> = null;
  try {
    await new Promise<void>((resolve, reject) => {
      other.stdout.once("data", () => resolve());
      other.once("exit", (code) => reject(new Error(`claimer exited with ${code}`)));
    });
    let binds = 0;
    let survived: boolean | undefined;
    Pipe.prototype.bind = function (this: unknown, name: string) {
      const result = bind.call(this, name);
      if (result === 0 && name.startsWith(file) && ++binds === nth) {
        const ino = inodeOf(name);
        writeFileSync(started, "");
        const cell = new Int32Array(new SharedArrayBuffer(4));
        for (let waited = 0; waited < 20_000 && !existsSync(finished); waited += 10) Atomics.wait(cell, 0, 0, 10);
        survived = ino !== undefined && inodeOf(name) === ino;
      }
      return result;
    };
    mine = await claimSocket(file);
    Pipe.prototype.bind = bind;
    assert.notEqual(survived, undefined, `this claimer made its bind number ${nth}`);
    // Probed while the other claimer still runs (it exits without closing, as if killed, when this ends).
    return { mine, other: readFileSync(finished, "utf8"), survived: survived!, state: await probeSocket(file) };
  } finally {
    Pipe.prototype.bind = bind;
    await mine?.release();
    other.stdin.end();
    if (other.exitCode === null && other.signalCode === null) await exited;
  }
}

describe("the Linux socket-file lock, for real", () => {
  test("one holder at a time; free again when released, and the file is gone", async () => {
    const dir = tempDir();
    try {
      const plan = { kind: "socket-file" as const, file: join(dir, "gateway.sock"), display: "t" };
      assert.equal(await isLockHeld(plan), false);
      const first = await acquireLock(plan);
      assert.ok(first?.server, "the first taker gets it, with its server");
      assert.equal(await acquireLock(plan), null, "a second taker gets null at once");
      assert.equal(await isLockHeld(plan), true);
      await first.release();
      await first.release();
      assert.equal(await isLockHeld(plan), false);
      assert.deepEqual(readdirSync(dir), [], "no socket or temp file left");
      const again = await acquireLock(plan);
      assert.ok(again);
      await again.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a dead socket file (its holder killed) is taken over; a dead takeover guard too", async () => {
    const dir = tempDir();
    try {
      const file = join(dir, "gateway.sock");
      await leaveDeadSocket(file);
      await leaveDeadSocket(`${file}.takeover`);
      assert.equal(await probeSocket(file), "dead");
      const held = await claimSocket(file);
      assert.ok(held, "taken over");
      assert.equal(await probeSocket(file), "live");
      assert.equal(held.stillHeld(), true);
      rmSync(file);
      assert.equal(held.stillHeld(), false, "a deleted socket file is a lost lock");
      await held.release();
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a claimer stalled between bind(2) and listen(2) is not taken for dead: one holder, not two", async () => {
    // Its first bind is of its temp name beside the file (the file itself before 68ce73b).
    const dir = tempDir();
    try {
      const file = join(dir, "gateway.sock");
      const { mine, other, survived, state } = await claimStalledInBind(dir, file, 1);
      assert.equal(other, "won", "the other claimer, which ran while this one stalled, holds the file");
      assert.equal(mine, null, "this claimer, resumed, finds the file held");
      assert.equal(survived, true, "the socket this claimer had bound was left to it");
      assert.equal(state, "live");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a claimer stalled inside the takeover, between bind(2) and listen(2) for its guard, is not taken for dead", async () => {
    // The file is dead: this claimer's second bind is for the takeover guard. A guard bound but not yet listening
    // refuses a connect as a dead one does: the other claimer must not remove it (then both would hold the guard,
    // and one could unlink a file a third had just claimed).
    const dir = tempDir();
    try {
      const file = join(dir, "gateway.sock");
      await leaveDeadSocket(file);
      const { mine, other, survived, state } = await claimStalledInBind(dir, file, 2);
      assert.equal(survived, true, "the socket this claimer had bound for the guard was left to it");
      assert.equal(other, "won");
      assert.equal(mine, null);
      assert.equal(state, "live");
      assert.equal(existsSync(`${file}.takeover`), false, "no guard left behind");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the next holder removes what claimers killed between bind and link left beside the file, and nothing else", async () => {
    const dir = tempDir();
    const bound: Array<{ close(): void }> = [];
    let held: Awaited<ReturnType<typeof claimSocket>> = null;
    try {
      const file = join(dir, "gateway.sock");
      // Killed after bind (its temp never linked), and killed after link (its temp is the dead file's inode).
      await leaveDeadSocket(`${file}.deadbeef`);
      await leaveDeadSocket(`${file}.g0badf00`);
      await leaveDeadSocket(file);
      linkSync(file, `${file}.0123abcd`);
      // A claimer about to link (listening) and one between bind(2) and listen(2): both alive.
      const listening = createServer();
      await new Promise<void>((r) => listening.listen(`${file}.1111aaaa`, r));
      bound.push(listening);
      bound.push(bindOnly(`${file}.2222bbbb`));
      // Not a claimer's temp name: left alone, dead or not.
      await leaveDeadSocket(`${file}.dead`);
      await leaveDeadSocket(join(dir, "other.sock.3333cccc"));
      writeFileSync(`${file}.4444dddd`, "not a socket");
      held = await claimSocket(file);
      assert.ok(held);
      assert.deepEqual(readdirSync(dir).sort(), ["gateway.sock", "gateway.sock.1111aaaa", "gateway.sock.2222bbbb", "gateway.sock.4444dddd", "gateway.sock.dead", "other.sock.3333cccc"]);
    } finally {
      await held?.release();
      for (const b of bound) b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("twenty claimers of one dead socket at once: exactly one wins", async () => {
    const dir = tempDir();
    try {
      const file = join(dir, "gateway.sock");
      await leaveDeadSocket(file);
      const claims = await Promise.all(Array.from({ length: 20 }, () => claimSocket(file)));
      const winners = claims.filter(Boolean);
      assert.equal(winners.length, 1);
      assert.equal(await probeSocket(file), "live");
      for (const w of winners) await w!.release();
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
