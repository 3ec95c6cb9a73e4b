// The gate in front of the handshake: a cap on unauthenticated connections, a deadline, and refusals
// logged as a summary rather than one line each.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import type { Socket } from "node:net";
import { createAdmission } from "../../src/coordination/admission.js";
import { CLOSED_UNREAD } from "../../src/coordination/handshake.js";

/** A stand-in socket that records being destroyed. */
function fakeSocket(): Socket & { destroyedByGate: boolean } {
  const s = new PassThrough() as unknown as Socket & { destroyedByGate: boolean };
  s.destroyedByGate = false;
  const destroy = s.destroy.bind(s);
  s.destroy = ((err?: Error) => {
    s.destroyedByGate = true;
    return destroy(err);
  }) as typeof s.destroy;
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("admission", () => {
  test("beyond the cap a connection is closed at once; below it, handshakes run", async () => {
    const warnings: string[] = [];
    const gate = createAdmission({ maxPending: 3, deadlineMs: 10_000, windowMs: 60_000, warn: (m) => warnings.push(m) });
    const release: Array<() => void> = [];
    const held = Array.from({ length: 3 }, () => gate.admit(fakeSocket(), () => new Promise<string>((r) => release.push(() => r("ok")))));
    assert.equal(gate.pending, 3);
    const extra = Array.from({ length: 100 }, () => fakeSocket());
    const results = await Promise.all(extra.map((s) => gate.admit(s, async () => "never")));
    assert.deepEqual(new Set(results), new Set([null]));
    assert.ok(extra.every((s) => s.destroyedByGate));
    release.forEach((r) => r());
    assert.deepEqual(await Promise.all(held), ["ok", "ok", "ok"]);
    assert.equal(gate.pending, 0);
    assert.equal(await gate.admit(fakeSocket(), async () => "again"), "again");
    await sleep(10);
    // A burst is one line (written off the accept path), not one per connection.
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0]!, /refused 100 unauthenticated connections .*100× over the limit of 3/);
    // Later refusals within the window wait for its end (here: close()).
    await gate.admit(fakeSocket(), async () => {
      throw new Error("missing or wrong token");
    });
    await sleep(10);
    assert.equal(warnings.length, 1);
    gate.close();
    assert.match(warnings[1]!, /refused 1 unauthenticated connection in .*1× missing or wrong token/);
  });

  test("a handshake past the deadline has its socket closed", async () => {
    const gate = createAdmission({ maxPending: 3, deadlineMs: 50, warn: () => {} });
    const s = fakeSocket();
    const r = await gate.admit(s, () => new Promise<string>((_, reject) => s.once("close", () => reject(new Error("closed during hello")))));
    assert.equal(r, null);
    assert.ok(s.destroyedByGate);
    gate.close();
  });

  test("a probe (closed before a byte) is not a warning", async () => {
    const warnings: string[] = [];
    const gate = createAdmission({ warn: (m) => warnings.push(m) });
    await gate.admit(fakeSocket(), async () => {
      throw new Error(`connection refused: ${CLOSED_UNREAD}`);
    });
    await sleep(10);
    gate.close();
    assert.deepEqual(warnings, []);
  });
});
