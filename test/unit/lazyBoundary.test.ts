// The bridge, --version and --status must not evaluate the MCP SDK or zod: every client launch pays for
// whatever main.ts reaches through static imports. This walks that graph as the bundler does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

function staticGraph(entry: string): { files: string[]; packages: Map<string, string> } {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    // `import type` and `import("...")` are not evaluated at start-up; only value imports are followed.
    for (const m of src.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+"([^"]+)"/gm)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) walk(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      else if (!spec.startsWith("node:")) packages.set(spec, relative(".", file));
    }
  };
  walk(resolve(entry));
  return { files: [...seen].map((f) => relative(".", f)), packages };
}

test("the start-up path imports no package but cac", () => {
  const { packages } = staticGraph("src/main.ts");
  assert.deepEqual([...packages.keys()], ["cac"], `eagerly imported: ${JSON.stringify([...packages])}`);
});

test("the start-up path reaches the bridge but not the primary or sessions", () => {
  const { files } = staticGraph("src/main.ts");
  assert.ok(files.includes("src/gateway/bridge.ts"));
  for (const lazy of ["src/gateway/primary.ts", "src/gateway/session.ts", "src/gateway/runtime.ts", "src/tools/registry.ts"]) {
    assert.ok(!files.includes(lazy), `${lazy} is loaded at start-up`);
  }
});

test("the binary's front (a client launch) imports no package at all, and none of the primary's side", () => {
  const { files, packages } = staticGraph("src/front.ts");
  assert.deepEqual([...packages.keys()], [], `eagerly imported: ${JSON.stringify([...packages])}`);
  assert.ok(files.includes("src/gateway/bridge.ts"));
  for (const far of ["src/cli/index.ts", "src/cli/serve.ts", "src/gateway/primary.ts", "src/gateway/runtime.ts", "src/downstream/manager.ts"]) {
    assert.ok(!files.includes(far), `${far} is in the front bundle`);
  }
  // Nor lazily: a dynamic import would put the module into the front bundle all the same.
  for (const f of files) assert.doesNotMatch(readFileSync(f, "utf8"), /\bimport\(/, `${f} imports lazily`);
});
