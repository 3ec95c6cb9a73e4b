// Runs the test suites with Node's own runner: `node scripts/test.mjs [unit|e2e]...` (default: both).
// End-to-end suites spawn dist/claude-mpm-gateway, so `npm run build` must have run first.
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
if (suites.includes("e2e") && !existsSync("dist/claude-mpm-gateway")) {
  console.error("dist/claude-mpm-gateway is missing: run `npm run build` first.");
  process.exit(2);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=120000", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
