// The linux-arm64 binary under qemu-user: start-up with the code cache build.mjs now makes by running the
// target's own Node under qemu, against the same cross-build without one (`--emulator none`). Emulation
// multiplies every time by ~10, so compare the ratio, not the milliseconds, with native figures.
// Run: node --import tsx bench/arm64.ts (needs qemu-user and libc6-arm64-cross; see test/e2e/emulation.ts).
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureArm64Emulation } from "../test/e2e/emulation.js";
import { fmt, machine, median, spawnToExit, spawnToInit, writeSection } from "./lib.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

async function main() {
  const emulation = ensureArm64Emulation();
  if (emulation.mode === "none") throw new Error(`no arm64 emulation: ${emulation.reason}`);
  const tmp = mkdtempSync(join(tmpdir(), "cmg-bench-arm64-"));
  const build = (name: string, extra: string[]) => {
    const out = join(tmp, name);
    execFileSync(process.execPath, ["build.mjs", "--quiet", "--target", "linux-arm64", "--out", out, ...extra], { stdio: ["ignore", "ignore", "inherit"] });
    return out;
  };
  const variants = { "code cache (made under qemu)": build("cache", []), "no cache (before)": build("plain", ["--emulator", "none"]) };
  const env = { PATH: "/usr/bin:/bin", HOME: tmp, CLAUDE_MPM_HOME: tmp, ...emulation.env };
  const run = (bin: string, args: string[]): [string, string[]] => (emulation.mode === "binfmt" ? [bin, args] : [emulation.qemu, [bin, ...args]]);
  const version: Record<string, number[]> = {};
  const init: Record<string, number[]> = {};
  for (let i = 0; i < RUNS; i++)
    for (const [name, bin] of Object.entries(variants)) {
      (version[name] ??= []).push(await spawnToExit(...run(bin, ["--version"]), env));
      (init[name] ??= []).push(await spawnToInit(...run(bin, ["--standalone"]), env));
    }
  const base = "no cache (before)";
  const rows = Object.keys(variants).map(
    (name) =>
      `| ${name} | ${fmt(median(version[name]!))} (${(median(version[name]!) / median(version[base]!)).toFixed(2)}×) | ${fmt(median(init[name]!))} (${(median(init[name]!) / median(init[base]!)).toFixed(2)}×) |`,
  );
  const body = `${machine()}; Node 24.21.0 linux-arm64 under qemu-user (${emulation.mode === "binfmt" ? "through binfmt_misc" : "qemu-aarch64 <file>"}); median of ${RUNS} interleaved runs.

| cross-built linux-arm64 binary | \`--version\` | spawn → \`initialize\` answered (\`--standalone\`) |
|---|---|---|
${rows.join("\n")}

The cache is V8's compiled bundle, made by the arm64 Node itself (under emulation); V8 checks its version,
flags and the source, not the CPU, so a real arm64 machine should accept it too (not verifiable here). The
release builds linux-arm64 natively on its own runner (with a cache), so this matters for the cross-build
tested here. Load average during the run was high (emulated processes on a shared 2-core machine).`;
  writeSection("linux-arm64 under qemu (bench/arm64.ts)", body);
  console.log(body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
