// The release path for platforms this machine cannot run: `build.mjs --target` must produce a real Mach-O
// and a real PE with our SEA blob injected and the fuse flipped. Whether they run is for macOS and Windows
// runners to prove (the release workflow's smoke tests).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const hasFile = (() => {
  try {
    execFileSync("file", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
// build.mjs makes a cross-target's blob with a linux-x64 Node of the target's version.
const skip = process.platform !== "linux" || process.arch !== "x64" ? "cross-builds need a linux-x64 host" : !hasFile ? "no `file` command" : false;

const out = mkdtempSync(join(tmpdir(), "cmg-cross-"));
after(() => rmSync(out, { recursive: true, force: true }));

function build(target: string, file: string): Promise<{ ms: number; stderr: string }> {
  return new Promise((done, fail) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ["build.mjs", "--target", target, "--out", file], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => (code === 0 ? done({ ms: Date.now() - t0, stderr }) : fail(new Error(`build --target ${target} exited ${code}:\n${stderr}`))));
  });
}

const CASES = [
  { target: "darwin-arm64", name: "claude-mpm-gateway-darwin-arm64", kind: "Mach-O arm64", format: /^Mach-O 64-bit arm64 executable/ },
  { target: "win-x64", name: "claude-mpm-gateway-win-x64.exe", kind: "PE32+ x86-64", format: /^PE32\+ executable \(console\) x86-64, for MS Windows/ },
];

describe("cross-builds", { skip }, () => {
  for (const c of CASES) {
    // The first run on a fresh machine downloads two Node packages (~50 MB each) from the npm registry.
    test(`--target ${c.target} makes a ${c.kind} binary with our blob injected`, { timeout: 600_000 }, async (t) => {
      const file = join(out, c.name);
      const { ms, stderr } = await build(c.target, file);
      const fetched = stderr.match(/fetched .* in [\d.]+ s/g) ?? [];
      t.diagnostic(`${c.target}: ${(ms / 1000).toFixed(1)} s, ${(statSync(file).size / 1024 / 1024).toFixed(1)} MiB${fetched.length ? `; ${fetched.join(", ")}` : ", Node packages cached"}`);

      assert.match(execFileSync("file", ["-b", file], { encoding: "utf8" }), c.format);
      assert.equal(statSync(file).mode & 0o111, 0o111, "executable bits set");
      const bytes = readFileSync(file);
      assert.ok(bytes.includes(`${FUSE}:1`), "the SEA fuse is flipped");
      assert.ok(!bytes.includes(`${FUSE}:0`), "no unflipped fuse is left");
      // Strings of our bundle (not in any stock Node) prove the blob itself is inside, not just the fuse.
      assert.ok(bytes.includes("NODE_SEA_BLOB"), "the blob's section or resource is named");
      assert.ok(bytes.includes("Claude MPM Gateway"), "our bundled code is in the blob");
    });
  }
});
