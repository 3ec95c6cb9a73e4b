// The state dir's surroundings: OpenSSH StrictModes for every folder above it, the Windows owner-only ACL,
// and the log never written through a symlink.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkAncestors, unsafeAncestor } from "../../src/coordination/stateDir.js";
import { applyOwnerOnlyAcl, ownerOnlyAclArgs } from "../../src/coordination/windowsAcl.js";
import { configureLogging, logger } from "../../src/log.js";
import { isGatewayError } from "../../src/errors.js";

describe("unsafeAncestor", () => {
  const me = 1000;
  const grp = 1000;
  test("the user's or root's folders, writable by no one else, are safe", () => {
    assert.equal(unsafeAncestor({ uid: 0, gid: 0, mode: 0o40755 }, me, grp), undefined);
    assert.equal(unsafeAncestor({ uid: me, gid: grp, mode: 0o40700 }, me, grp), undefined);
  });
  test("sticky world-writable folders (/tmp) are safe; without the sticky bit they are not", () => {
    assert.equal(unsafeAncestor({ uid: 0, gid: 0, mode: 0o41777 }, me, grp), undefined);
    assert.equal(unsafeAncestor({ uid: 0, gid: 0, mode: 0o40777 }, me, grp), "is writable by every user");
  });
  test("another user's folder, or one writable by another group, is not", () => {
    assert.equal(unsafeAncestor({ uid: 1001, gid: 1001, mode: 0o40755 }, me, grp), "belongs to uid 1001");
    assert.equal(unsafeAncestor({ uid: me, gid: 50, mode: 0o40775 }, me, grp), "is writable by group 50");
    // The user's own private group (the usual umask 002 setup) is the user.
    assert.equal(unsafeAncestor({ uid: me, gid: grp, mode: 0o40775 }, me, grp), undefined);
  });
});

describe("checkAncestors", () => {
  test("names the folder that lets others in, along the given path and along the real path", () => {
    const root = mkdtempSync(join(tmpdir(), "cmg-anc-"));
    try {
      const uid = process.getuid!();
      const gid = process.getgid!();
      mkdirSync(join(root, "open", "home", "mcp"), { recursive: true });
      chmodSync(join(root, "open"), 0o777);
      assert.throws(
        () => checkAncestors(join(root, "open", "home", "mcp"), uid, gid),
        (e: unknown) => isGatewayError(e, "STATE_DIR") && e.message.startsWith(`${join(root, "open")}, above the state dir`) && /writable by every user/.test(e.message),
      );
      // Reached through a symlink from a safe folder: the real path's open folder is still found.
      mkdirSync(join(root, "safe"));
      symlinkSync(join(root, "open", "home"), join(root, "safe", "home"));
      assert.throws(() => checkAncestors(join(root, "safe", "home", "mcp"), uid, gid), /writable by every user/);
      chmodSync(join(root, "open"), 0o755);
      checkAncestors(join(root, "safe", "home", "mcp"), uid, gid);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("windows owner-only ACL", () => {
  test("icacls drops inheritance and grants the SID alone full control, inherited inside", () => {
    assert.deepEqual(ownerOnlyAclArgs("C:\\Users\\a\\.claude-mpm\\mcp", "S-1-5-21-1-2-3-1001"), [
      "C:\\Users\\a\\.claude-mpm\\mcp",
      "/inheritance:r",
      "/grant:r",
      "*S-1-5-21-1-2-3-1001:(OI)(CI)F",
    ]);
    const calls: string[][] = [];
    applyOwnerOnlyAcl("D:\\x", (a) => calls.push(a), () => "S-1-5-18");
    assert.deepEqual(calls, [["D:\\x", "/inheritance:r", "/grant:r", "*S-1-5-18:(OI)(CI)F"]]);
    // A failing icacls is not fatal.
    applyOwnerOnlyAcl("D:\\x", () => {
      throw new Error("icacls missing");
    }, () => "S-1-5-18");
  });
});

describe("the log file", () => {
  test("is never written through a symlink planted at its name", () => {
    const root = mkdtempSync(join(tmpdir(), "cmg-log-"));
    try {
      const victim = join(root, "victim");
      writeFileSync(victim, "precious\n");
      const logFile = join(root, "gateway.log");
      symlinkSync(victim, logFile);
      configureLogging({ file: logFile, stderr: false, level: "info" });
      logger("t").info("hello");
      assert.equal(readFileSync(victim, "utf8"), "precious\n");
      rmSync(logFile);
      logger("t").info("hello");
      assert.ok(existsSync(logFile));
      assert.match(readFileSync(logFile, "utf8"), /INFO .* t: hello\n$/);
    } finally {
      configureLogging({ file: undefined, stderr: true, level: "warn" });
      rmSync(root, { recursive: true, force: true });
    }
  });
});
