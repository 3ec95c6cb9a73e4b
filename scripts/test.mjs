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
// The release-path suites pack and inject >100 MB binaries (minutes on a loaded machine, plus the first
// download of the other platforms' Node; upgrade builds a second release to upgrade to) or run the arm64
// build under qemu: they run last, one at a time, with a longer timeout, so they neither time out nor slow
// the timing-sensitive suites down.
const SLOW = new Set(["crossbuild", "bundle", "arm64", "officialNode", "upgrade"].map((name) => join("test", "e2e", `${name}.test.ts`)));
// Node 20's runner applies --test-timeout to each file's run as a whole too, not only to each test: a file
// of a dozen e2e tests took 120 s at load 12 and failed with no test of it failing. 300 s still bounds a hang
// well inside CI's 30 minutes.
const runs = [
  { files: files.filter((f) => !SLOW.has(f)), flags: ["--test-concurrency=2", "--test-timeout=300000"] },
  { files: files.filter((f) => SLOW.has(f)), flags: ["--test-concurrency=1", "--test-timeout=900000"] },
];
let status = 0;
for (const run of runs.filter((r) => r.files.length)) {
  const result = spawnSync(process.execPath, ["--import", "tsx", "--test", ...run.flags, ...run.files], { stdio: "inherit" });
  status ||= result.status ?? 1;
}
process.exit(status);
