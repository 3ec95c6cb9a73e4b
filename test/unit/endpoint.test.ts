// Platform selection of the lock and the endpoint. Only Linux runs here: macOS and Windows are checked by
// what they would be given (names, paths, lengths), not by binding them.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointFor } from "../../src/coordination/endpoint.js";
import { abstractAddress, identityFor, type Identity } from "../../src/coordination/identity.js";
import { acquireLock, isLockHeld, lockPlan } from "../../src/coordination/lock.js";
import { isGatewayError } from "../../src/errors.js";

const STATE = "/home/alice/.claude-mpm/mcp";
/** An abstract name as the kernel sees it from any Node: NUL, the name, NULs to the end of sun_path (108). */
const abstract = (name: string) => `\0${name}`.padEnd(108, "\0");
const id = (platform: NodeJS.Platform, user = "501"): Identity => ({ platform, user, dirHash: "0123456789abcdef" });

describe("identityFor", () => {
  test("hashes the state dir (sha256, 16 hex) and names the user by uid on Unix", () => {
    const ident = identityFor(STATE, "linux");
    assert.equal(ident.dirHash, createHash("sha256").update(STATE).digest("hex").slice(0, 16));
    assert.equal(ident.user, String(process.getuid!()));
    assert.equal(ident.platform, "linux");
  });

  test("two state dirs get two names; the same dir always the same", () => {
    assert.notEqual(identityFor("/a/mcp").dirHash, identityFor("/b/mcp").dirHash);
    assert.equal(identityFor("/a/mcp").dirHash, identityFor("/a/mcp").dirHash);
  });
});

describe("endpointFor", () => {
  test("linux: an abstract socket (leading NUL), shown with @, with no file to clean", () => {
    const ep = endpointFor(id("linux"), STATE);
    assert.equal(ep.address, abstract("claude-mpm-gateway-501-0123456789abcdef"));
    assert.equal(ep.display, "@claude-mpm-gateway-501-0123456789abcdef");
    assert.equal(ep.file, undefined);
  });

  test("win32: a named pipe under \\\\.\\pipe\\, named by user and state dir", () => {
    const ep = endpointFor(id("win32", "alice"), "C:\\Users\\alice\\.claude-mpm\\mcp");
    assert.equal(ep.address, "\\\\.\\pipe\\claude-mpm-gateway-alice-0123456789abcdef");
    assert.equal(ep.display, ep.address);
    assert.equal(ep.file, undefined);
  });

  test("darwin: a socket file in the 0700 state dir when its path fits", () => {
    const ep = endpointFor(id("darwin"), STATE, "/var/folders/xy/T");
    assert.equal(ep.address, `${STATE}/gateway.sock`);
    assert.equal(ep.file, ep.address);
    assert.equal(ep.display, ep.address);
  });

  test("darwin: a path of exactly 103 bytes stays in the state dir; 104 falls back to the short tmp path", () => {
    const fits = "/" + "d".repeat(103 - "/gateway.sock".length - 1);
    assert.equal(Buffer.byteLength(join(fits, "gateway.sock")), 103);
    assert.equal(endpointFor(id("darwin"), fits, "/tmp").file, join(fits, "gateway.sock"));

    const tooLong = fits + "d";
    const ep = endpointFor(id("darwin"), tooLong, "/var/folders/xy/T");
    assert.equal(ep.file, "/var/folders/xy/T/claude-mpm-501/0123456789abcdef.sock");
    assert.ok(Buffer.byteLength(ep.file!) <= 103);
  });

  test("darwin: the limit counts bytes, not characters (a non-ASCII home)", () => {
    // 40 two-byte characters: 80 bytes but 40 characters.
    const dir = "/Users/" + "é".repeat(40) + "/.claude-mpm/mcp";
    assert.ok(dir.length + "/gateway.sock".length <= 103);
    assert.ok(Buffer.byteLength(join(dir, "gateway.sock")) > 103);
    assert.match(endpointFor(id("darwin"), dir, "/tmp").file!, /^\/tmp\/claude-mpm-501\//);
  });
});

describe("abstractAddress", () => {
  test("fills sun_path, so a Node that pads (20) and one that does not (24) bind the same name", () => {
    const a = abstractAddress("claude-mpm-gateway-501-0123456789abcdef");
    assert.equal(Buffer.byteLength(a), 108);
    assert.ok(a.startsWith("\0claude-mpm-gateway-501-0123456789abcdef\0"));
    assert.match(a.slice(1), /^[^\0]+\0+$/);
    // The longest real name (a 10-digit uid, the lock's suffix) still fits with its NUL.
    assert.equal(Buffer.byteLength(abstractAddress(`claude-mpm-gateway-${"9".repeat(10)}-0123456789abcdef-lock`)), 108);
  });
});

describe("lockPlan", () => {
  test("linux: an abstract socket distinct from the endpoint's name", () => {
    const plan = lockPlan(id("linux"), `${STATE}/gateway.lock`);
    assert.deepEqual(plan, {
      kind: "socket",
      address: abstract("claude-mpm-gateway-501-0123456789abcdef-lock"),
      display: "abstract socket @claude-mpm-gateway-501-0123456789abcdef-lock",
    });
    assert.notEqual(plan.address, endpointFor(id("linux"), STATE).address);
  });

  test("win32: a named pipe distinct from the endpoint's pipe", () => {
    const plan = lockPlan(id("win32", "alice"), "C:\\x\\gateway.lock");
    assert.equal(plan.kind, "socket");
    assert.equal(plan.kind === "socket" && plan.address, "\\\\.\\pipe\\claude-mpm-gateway-alice-0123456789abcdef-lock");
    assert.notEqual(plan.kind === "socket" && plan.address, endpointFor(id("win32", "alice"), "C:\\x").address);
  });

  test("darwin: flock on gateway.lock in the state dir", () => {
    assert.deepEqual(lockPlan(id("darwin"), `${STATE}/gateway.lock`), {
      kind: "flock",
      file: `${STATE}/gateway.lock`,
      display: `flock on ${STATE}/gateway.lock`,
    });
  });

  test("any other platform is refused with a clear error pointing to --standalone", () => {
    for (const platform of ["freebsd", "aix", "sunos", "openbsd"] as NodeJS.Platform[]) {
      assert.throws(
        () => lockPlan(id(platform), "/x/gateway.lock"),
        (err: unknown) => isGatewayError(err, "UNSUPPORTED_PLATFORM") && /cannot coordinate on .*--standalone/.test((err as Error).message),
      );
    }
  });
});

describe("the Linux lock, for real", () => {
  test("one holder at a time, and free again the moment it is released", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cmg-lock-"));
    try {
      const plan = lockPlan(identityFor(join(dir, "mcp")), join(dir, "gateway.lock"));
      assert.equal(await isLockHeld(plan), false);
      const first = await acquireLock(plan);
      assert.ok(first, "the first taker gets it");
      assert.equal(await acquireLock(plan), null, "a second taker gets null at once");
      assert.equal(await isLockHeld(plan), true);
      await first.release();
      assert.equal(await isLockHeld(plan), false);
      const again = await acquireLock(plan);
      assert.ok(again);
      await again.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
