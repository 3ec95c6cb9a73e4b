// Runs the test suites with Node's own runner: `node scripts/test.mjs [unit|e2e]...` (default: both).
// End-to-end suites spawn dist/claude-mpm-gateway, which this script builds first.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const suites = process.argv.slice(2).length ? process.argv.slice(2) : ["unit", "e2e"];
const files = suites.flatMap((suite) => {
  const dir = join("test", suite);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".test.ts"))
    .sort()
    .map((f) => join(dir, f));
});
// The end-to-end suites test the real binary: build it first (a few seconds once the pinned Node is cached).
if (suites.includes("e2e")) {
  const built = spawnSync(process.execPath, ["build.mjs", "--quiet"], { stdio: "inherit" });
  const exe = process.platform === "win32" ? "dist/claude-mpm-gateway.exe" : "dist/claude-mpm-gateway";
  if (built.status !== 0 || !existsSync(exe)) process.exit(built.status ?? 1);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=120000", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
