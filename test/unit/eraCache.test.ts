// The era cache: a restart skips the probe while a verdict is fresh; age, a config change or a failure
// sends the next start back to probing, so an upgraded server is found again.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EraCache } from "../../src/downstream/eraCache.js";
import type { ServerConfig } from "../../src/downstream/config.js";

const CFG: ServerConfig = { type: "stdio", command: "node", args: ["server.mjs"], env: {}, disabled: false };

describe("EraCache", () => {
  test("a verdict is reused until its time is up, then the server is probed again", () => {
    let now = 0;
    const cache = new EraCache<string>(1000, () => now);
    assert.equal(cache.get("s", CFG), undefined);
    cache.set("s", CFG, "legacy");
    now = 999;
    assert.equal(cache.get("s", CFG), "legacy");
    now = 1000;
    assert.equal(cache.get("s", CFG), undefined, "an old legacy verdict must not hide an upgrade");
    cache.set("s", CFG, "modern");
    assert.equal(cache.get("s", CFG), "modern");
  });

  test("another name or any change of the config is another server", () => {
    const cache = new EraCache<string>();
    cache.set("s", CFG, "modern");
    assert.equal(cache.get("t", CFG), undefined);
    assert.equal(cache.get("s", { ...CFG, args: ["server.mjs", "--v2"] }), undefined);
    assert.equal(cache.get("s", { ...CFG, env: { A: "1" } }), undefined);
    assert.equal(cache.get("s", { ...CFG }), "modern");
  });

  test("a verdict proved wrong is forgotten at once", () => {
    const cache = new EraCache<string>();
    cache.set("s", CFG, "modern");
    cache.forget("s", CFG);
    assert.equal(cache.get("s", CFG), undefined);
  });
});
