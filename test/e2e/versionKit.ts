// A second release for the upgrade suites: the same source built again with a higher version (build.mjs
// --gateway-version, the cached Node base reused), and the processes of a binary file that an install
// replaced under them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PACKAGE_VERSION = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;

/** The version dist/ was built with (package.json's). */
export const OLD_VERSION = PACKAGE_VERSION;

/** A version above package.json's: its next patch, marked as a test build (a prerelease of that patch). */
export const NEXT_VERSION = (() => {
  const [major, minor, patch] = PACKAGE_VERSION.split(/[.+-]/).map(Number) as [number, number, number];
  return `${major}.${minor}.${patch + 1}-e2e.1`;
})();

/** Builds the gateway with `version` into a fresh temp folder (bounded: 10 min); returns the binary's path. */
export function buildRelease(version: string): { bin: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "cmg-release-"));
  const bin = join(dir, "claude-mpm-gateway");
  const r = spawnSync(process.execPath, ["build.mjs", "--quiet", "--gateway-version", version, "--out", bin], { encoding: "utf8", timeout: 600_000 });
  assert.equal(r.status, 0, `build of ${version} failed: ${r.stderr}`);
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Live processes started from the file at `bin`, also those whose file was since replaced (an install renames
 * the new release over it: their /proc exe link then reads "<bin> (deleted)").
 */
export function processesOfFile(bin: string): Array<{ pid: number; args: string[]; replaced: boolean }> {
  const found: Array<{ pid: number; args: string[]; replaced: boolean }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const exe = readlinkSync(`/proc/${entry}/exe`);
      if (exe !== bin && exe !== `${bin} (deleted)`) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean).slice(1);
      found.push({ pid: Number(entry), args, replaced: exe !== bin });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Kills every process of `bin`, replaced or not (after a failed test, so the next one starts clean). */
export function killProcessesOfFile(bin: string): void {
  for (const p of processesOfFile(bin)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}
