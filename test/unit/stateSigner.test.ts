// The gateway's requestState: sealed by one primary, opened by the next, refused when forged, stale,
// presented by another session or for another request; and the installation key file behind it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StateRejected, StateSigner, requestDigest, type StateClaims } from "../../src/downstream/stateSigner.js";
import { KEY_FILE, installationKey } from "../../src/coordination/installationKey.js";

const REQ = requestDigest("tools/call", "modern__confirm", { action: "deploy", n: 1 });
const CLAIMS: Omit<StateClaims, "exp"> = { bind: "session-a", req: REQ, srv: "modern", body: { k: "pass", ds: "downstream-state" } };

function rejection(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StateRejected, `expected StateRejected, got ${String(err)}`);
    return err.reason;
  }
  assert.fail("the state was accepted");
}

describe("StateSigner", () => {
  const secret = Buffer.alloc(32, 7);

  test("a state sealed by one signer opens with another of the same installation key", () => {
    const token = new StateSigner(secret).seal(CLAIMS, 60_000);
    const claims = new StateSigner(Buffer.from(secret)).open(token, { bind: "session-a", req: REQ });
    assert.deepEqual(claims.body, { k: "pass", ds: "downstream-state" });
    assert.equal(claims.srv, "modern");
  });

  test("the argument digest ignores key order but not values", () => {
    assert.equal(requestDigest("tools/call", "t", { a: 1, b: [1, { y: 2, x: 1 }] }), requestDigest("tools/call", "t", { b: [1, { x: 1, y: 2 }], a: 1 }));
    assert.notEqual(requestDigest("tools/call", "t", { a: 1 }), requestDigest("tools/call", "t", { a: 2 }));
    assert.notEqual(requestDigest("tools/call", "t", {}), requestDigest("prompts/get", "t", {}));
  });

  test("another installation's key, an edited payload or signature, and garbage are refused", () => {
    const signer = new StateSigner(secret);
    const token = signer.seal(CLAIMS, 60_000);
    const expect = { bind: "session-a", req: REQ };
    assert.equal(rejection(() => new StateSigner(Buffer.alloc(32, 8)).open(token, expect)), "forged");
    const [p, payload, mac] = token.split(".");
    const edited = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), srv: "other" })).toString("base64url");
    assert.equal(rejection(() => signer.open(`${p}.${edited}.${mac}`, expect)), "forged");
    assert.equal(rejection(() => signer.open(`${p}.${payload}.${mac!.slice(0, -2)}xx`, expect)), "forged");
    for (const junk of ["", "x", "g1.a", "g1.a.b.c", 42, null, { s: token }, "g2." + token.slice(3)]) {
      assert.equal(rejection(() => signer.open(junk, expect)), "malformed", `junk ${JSON.stringify(junk)}`);
    }
    assert.equal(rejection(() => signer.open("g1.e30.bm90LWEtbWFj", expect)), "forged");
  });

  test("a state past its expiry is refused", () => {
    let now = 1_000_000;
    const signer = new StateSigner(secret, () => now);
    const token = signer.seal(CLAIMS, 10_000);
    now += 9_999;
    assert.equal(signer.open(token, { bind: "session-a", req: REQ }).srv, "modern");
    now += 1;
    assert.equal(rejection(() => signer.open(token, { bind: "session-a", req: REQ })), "expired");
  });

  test("another session, another tool or other arguments cannot use it", () => {
    const signer = new StateSigner(secret);
    const token = signer.seal(CLAIMS, 60_000);
    assert.equal(rejection(() => signer.open(token, { bind: "session-b", req: REQ })), "other-session");
    assert.equal(rejection(() => signer.open(token, { bind: "session-a", req: requestDigest("tools/call", "modern__other", { action: "deploy", n: 1 }) })), "other-request");
    assert.equal(rejection(() => signer.open(token, { bind: "session-a", req: requestDigest("tools/call", "modern__confirm", { action: "rm -rf", n: 1 }) })), "other-request");
  });

  test("every refusal says why in words a user can act on", () => {
    assert.match(new StateRejected("expired").message, /expired: call the tool again/);
    assert.match(new StateRejected("forged").message, /not one this gateway issued/);
  });
});

describe("installationKey", () => {
  const fresh = () => mkdtempSync(join(tmpdir(), "mpm-key-"));

  test("the first call creates a 0600 key; later calls, as a later primary would, read the same one", (t) => {
    const dir = fresh();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const a = installationKey(dir);
    assert.equal(a.length, 32);
    if (process.platform !== "win32") assert.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
    assert.deepEqual(installationKey(dir), a);
    assert.match(readFileSync(join(dir, KEY_FILE), "utf8"), /^[0-9a-f]{64}\n$/);
  });

  test("a key someone else wrote first is adopted, not overwritten", (t) => {
    const dir = fresh();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, KEY_FILE), "ab".repeat(32) + "\n", { mode: 0o600 });
    assert.deepEqual(installationKey(dir), Buffer.from("ab".repeat(32), "hex"));
  });

  test("a truncated key is replaced", (t) => {
    const dir = fresh();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, KEY_FILE), "abc", { mode: 0o600 });
    const key = installationKey(dir);
    assert.equal(key.length, 32);
    assert.deepEqual(installationKey(dir), key);
  });

  test("a key others can read is never trusted", { skip: process.platform === "win32" }, (t) => {
    const dir = fresh();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, KEY_FILE), "cd".repeat(32) + "\n");
    chmodSync(join(dir, KEY_FILE), 0o644);
    const key = installationKey(dir);
    assert.notDeepEqual(key, Buffer.from("cd".repeat(32), "hex"));
    assert.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
  });

  test("a symlink in its place is refused with a clear error", { skip: process.platform === "win32" }, (t) => {
    const dir = fresh();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "elsewhere"), "ef".repeat(32) + "\n", { mode: 0o600 });
    symlinkSync(join(dir, "elsewhere"), join(dir, KEY_FILE));
    assert.throws(() => installationKey(dir), /signing key .* symbolic link/);
  });
});
