// The folders are layers: a module imports only from its own layer and those below, and no modules import
// each other in a circle (one would see the other half-initialised at start-up, in whichever order the
// bundler happened to put them). This walks the static imports as the bundler does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [resolve(p)] : [];
  });
}

/** Each source file's value imports of other source files (`import type` is erased, so it cannot loop). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources("src")) {
    const src = readFileSync(file, "utf8");
    const deps = [...src.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+"(\.[^"]+)"/gm)].map((m) =>
      resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts")),
    );
    graph.set(file, deps);
  }
  return graph;
}

test("no source modules import each other in a circle", () => {
  const graph = importGraph();
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const circles: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    path.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (state.get(dep) === "open") circles.push([...path.slice(path.indexOf(dep)), dep].map((f) => relative(".", f)).join(" -> "));
      else if (!state.has(dep)) visit(dep);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  assert.deepEqual(circles, []);
});

test("the line transport sits below the gateway and the downstream side that both use it", () => {
  const graph = importGraph();
  const below = [...graph].filter(([file]) => relative(".", file).startsWith(join("src", "transport")));
  assert.ok(below.length >= 2, "src/transport holds the line transport and its splitter");
  for (const [file, deps] of below) {
    for (const dep of deps) {
      const layer = relative("src", dep).split(/[\\/]/)[0];
      assert.ok(layer === "transport" || !["gateway", "downstream", "cli", "http", "coordination"].includes(layer!), `${relative(".", file)} imports ${relative(".", dep)}`);
    }
  }
});
