// Version precedence decides whether a bridge asks for an upgrade and whether a primary accepts one: it
// must follow semver.org §11 exactly, and anything it cannot order must never count as newer.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { compareSemVer, isNewer, parseSemVer } from "../../src/coordination/semver.js";

const cmp = (a: string, b: string) => compareSemVer(parseSemVer(a)!, parseSemVer(b)!);

test("semver.org §11's own example order, and every pair of it", () => {
  const ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1"];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(cmp(ordered[i]!, ordered[j]!), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
});

test("a prerelease is older than its release, numbers compare as numbers, build metadata is ignored", () => {
  assert.equal(cmp("0.2.0-rc.1", "0.2.0"), -1);
  assert.equal(cmp("0.2.0-rc.1", "0.1.9"), 1);
  assert.equal(cmp("0.10.0", "0.9.0"), 1);
  assert.equal(cmp("0.2.0-rc.10", "0.2.0-rc.9"), 1);
  assert.equal(cmp("0.2.0-1", "0.2.0-alpha"), -1);
  assert.equal(cmp("0.2.0+linux", "0.2.0+darwin"), 0);
  assert.equal(cmp("v0.2.0", "0.2.0"), 0);
});

test("what semver.org does not allow does not parse", () => {
  for (const bad of ["", "0.2", "0.2.0.1", "01.2.0", "0.2.0-", "0.2.0-rc..1", "0.2.0-01", "x.y.z", "0.2.0 beta", "99999999999999999999.0.0"]) {
    assert.equal(parseSemVer(bad), null, JSON.stringify(bad));
  }
  assert.deepEqual(parseSemVer("1.2.3-rc.1+b.7"), { major: 1, minor: 2, patch: 3, prerelease: ["rc", 1] });
});

test("isNewer: strictly greater only; unknown or unparsable versions are never newer", () => {
  assert.equal(isNewer("0.2.0", "0.1.0"), true);
  assert.equal(isNewer("0.2.0", "0.2.0-rc.1"), true);
  assert.equal(isNewer("0.2.0-rc.1", "0.2.0"), false);
  assert.equal(isNewer("0.2.0", "0.2.0"), false);
  assert.equal(isNewer("0.1.0", "0.2.0"), false);
  assert.equal(isNewer(undefined, "0.1.0"), false);
  assert.equal(isNewer("0.2.0", undefined), false);
  assert.equal(isNewer("0.2.0", "garbage"), false);
  assert.equal(isNewer("garbage", "0.1.0"), false);
});

const version = fc
  .record({
    core: fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)),
    pre: fc.array(fc.oneof(fc.nat(20), fc.constantFrom("alpha", "beta", "rc", "x-1", "A")), { maxLength: 3 }),
  })
  .map(({ core, pre }) => core.join(".") + (pre.length ? `-${pre.join(".")}` : ""));

test("an order: antisymmetric and transitive, so no two versions can each be newer than the other", () => {
  fc.assert(
    fc.property(version, version, version, (a, b, c) => {
      assert.equal(cmp(a, b), -cmp(b, a) || 0);
      assert.ok(!(isNewer(a, b) && isNewer(b, a)));
      if (cmp(a, b) <= 0 && cmp(b, c) <= 0) assert.ok(cmp(a, c) <= 0);
    }),
    { numRuns: 2000 },
  );
});
