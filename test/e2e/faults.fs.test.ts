// Filesystem faults: each gives a clear error naming the path and what to do, a documented exit code (5),
// nothing on stdout, and nothing outside the state dir touched.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectNoProcessLeft, gatewayEnv, installBinary, run, tempHome, type Install } from "./harness.js";
import { RawSession } from "./rawSession.js";

const NOBODY = 65534;
let install: Install;
before(() => {
  install = installBinary();
  chmodSync(install.dir, 0o755); // so the tests that run as another user can execute the copy
});
after(async () => {
  await expectNoProcessLeft(install.bin);
  install.cleanup();
});

/** A client launch with stdin closed: the bridge must fail before reading anything. */
function launch(home: string) {
  return run(install, home, []);
}

describe("state dir faults (the bridge reports them at once, exit 5)", () => {
  test("the state dir is a file", () => {
    const home = tempHome();
    writeFileSync(join(home, "mcp"), "not a dir");
    const r = launch(home);
    assert.equal(r.status, 5);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `claude-mpm-gateway: state dir ${join(home, "mcp")} cannot be created because a file stands in its path: move it away or set CLAUDE_MPM_HOME\n`);
  });

  test("gateway.json is a directory", () => {
    const home = tempHome();
    mkdirSync(join(home, "mcp", "gateway.json"), { recursive: true });
    const r = launch(home);
    assert.equal(r.status, 5);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`${join(home, "mcp", "gateway.json")} is not a regular file: remove it`));
  });

  test("gateway.json is a symlink: refused, its target untouched", () => {
    const home = tempHome();
    const target = join(mkdtempSync(join(tmpdir(), "cmg-target-")), "precious.txt");
    writeFileSync(target, "keep me");
    mkdirSync(join(home, "mcp"), { recursive: true });
    symlinkSync(target, join(home, "mcp", "gateway.json"));
    const r = launch(home);
    assert.equal(r.status, 5);
    assert.match(r.stderr, /gateway\.json is a symbolic link; refusing to follow it: remove it/);
    const status = run(install, home, ["status"]);
    assert.equal(status.status, 3);
    assert.match(status.stdout, /could not remove .*gateway\.json: remove it by hand/);
    assert.equal(readFileSync(target, "utf8"), "keep me");
  });
});

describe("faults seen by another user", () => {
  function asNobody(home: string, args: string[]) {
    const r = spawnSync(install.bin, args, { env: gatewayEnv(install, home), encoding: "utf8", uid: NOBODY, gid: NOBODY, timeout: 20_000, input: "" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  function nobodyHome(): string {
    const home = mkdtempSync(join(tmpdir(), "cmg-nobody-"));
    chmodSync(home, 0o755);
    chownSync(home, NOBODY, NOBODY);
    return home;
  }

  test("the state dir is not writable", () => {
    const home = nobodyHome();
    const dir = join(home, "mcp");
    mkdirSync(dir, { mode: 0o500 });
    chownSync(dir, NOBODY, NOBODY);
    const r = asNobody(home, []);
    assert.equal(r.status, 5);
    assert.equal(r.stderr, `claude-mpm-gateway: state dir ${dir} is not writable: fix its permissions or set CLAUDE_MPM_HOME to a writable folder\n`);
  });

  test("the state dir belongs to someone else", () => {
    const home = nobodyHome();
    const dir = join(home, "mcp");
    mkdirSync(dir, { mode: 0o755 }); // root's
    const r = asNobody(home, []);
    assert.equal(r.status, 5);
    assert.match(r.stderr, new RegExp(`${dir} belongs to another user \\(uid 0\\): set CLAUDE_MPM_HOME`));
  });

  test("gateway.lock belongs to someone else: the client gets a JSON-RPC error naming it", async () => {
    const home = nobodyHome();
    const dir = join(home, "mcp");
    mkdirSync(join(dir, "logs"), { recursive: true, mode: 0o700 });
    execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, dir]);
    writeFileSync(join(dir, "gateway.lock"), "123\n", { mode: 0o600 }); // root's, unreadable to nobody
    // The bridge answers as soon as its primary has exited; only a primary that never started would make it
    // wait out its start bound, which is raised from 10 s (a primary spawned at load 30 beside a file starting
    // ten processes at once once took longer than 10 s to fail) so the answer is the primary's, not the bound's.
    const s = new RawSession(install, home, [], { CLAUDE_MPM_GATEWAY_START_TIMEOUT_MS: "20000" }, { uid: NOBODY, gid: NOBODY });
    try {
      const answer = await s.request(0, "initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } });
      const error = answer.error as { code: number; message: string };
      assert.equal(error.code, -32603);
      assert.match(error.message, /exited at start with code 5: lock file .*gateway\.lock belongs to someone else or is read-only: remove it/);
      assert.match(s.stderr, /gateway\.lock belongs to someone else/);
    } finally {
      s.end(); // a failed assertion must not leave the bridge running
    }
    assert.equal((await s.exitedWithin(10_000)).code, 0);
  });
});

describe("a full disk", () => {
  let mountPoint: string | undefined;
  before(() => {
    const dir = mkdtempSync(join(tmpdir(), "cmg-full-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { stdio: "ignore" });
      mountPoint = dir;
    } catch {
      mountPoint = undefined;
    }
  });
  after(() => {
    if (mountPoint) {
      spawnSync("umount", [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });

  test("the client hears that the disk is full", async (t) => {
    if (!mountPoint) return t.skip("cannot mount a small tmpfs here (needs root)");
    mkdirSync(join(mountPoint, "mcp", "logs"), { recursive: true, mode: 0o700 });
    // Fill it: a write that fails with ENOSPC leaves the file system full.
    try {
      writeFileSync(join(mountPoint, "filler"), Buffer.alloc(1024 * 1024));
    } catch {
      // full now
    }
    const s = new RawSession(install, mountPoint);
    const answer = await s.request(0, "initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } });
    const error = answer.error as { message: string };
    assert.match(error.message, /disk (holding .* )?is full/);
    s.end();
    assert.equal((await s.exited).code, 0);
  });
});
