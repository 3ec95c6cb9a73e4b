// `npm run bundle`: packs a built binary into dist/claude-mpm-gateway-<target>.mcpb, an MCP Bundle that Claude
// Desktop installs in one click. The manifest is checked with @anthropic-ai/mcpb's validator and packed by its
// own packer (the code Claude Desktop itself uses to read bundles), so what we ship is what it accepts.
//
//   node scripts/bundle.mjs [--target linux-x64] [--binary path] [--tools-from path] [--out file.mcpb]
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { packExtension } from "@anthropic-ai/mcpb";

const root = resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const HOST = `${process.platform === "win32" ? "win" : process.platform}-${process.arch}`;
const PLATFORM = { linux: "linux", darwin: "darwin", win: "win32" };

const { values: opts } = parseArgs({
  options: {
    target: { type: "string", default: HOST },
    binary: { type: "string" },
    "tools-from": { type: "string" },
    out: { type: "string" },
  },
});
const target = opts.target;
const platform = PLATFORM[target.split("-")[0]];
if (!platform) fail(`unknown --target ${target}`);
const exe = `claude-mpm-gateway${platform === "win32" ? ".exe" : ""}`;
const hostBinary = join(root, "dist", `claude-mpm-gateway${process.platform === "win32" ? ".exe" : ""}`);
// build.mjs names a native build dist/claude-mpm-gateway and a cross-build dist/claude-mpm-gateway-<target>.
const binary = resolve(opts.binary ?? (target === HOST ? hostBinary : join(root, "dist", `claude-mpm-gateway-${target}${platform === "win32" ? ".exe" : ""}`)));
// The tool list comes from running a binary: the bundled one when it runs here, else this host's build.
const toolsFrom = resolve(opts["tools-from"] ?? (target === HOST ? binary : hostBinary));
const out = resolve(opts.out ?? join(root, "dist", `claude-mpm-gateway-${target}.mcpb`));

function fail(msg) {
  console.error(`bundle: ${msg}`);
  process.exit(1);
}

/** The built-in tools, as the real registry lists them (a fresh home: no user's downstream servers). */
function listTools() {
  const home = mkdtempSync(join(tmpdir(), "cmg-bundle-home-"));
  try {
    const json = execFileSync(toolsFrom, ["tools", "--json"], {
      encoding: "utf8",
      env: { ...process.env, CLAUDE_MPM_HOME: home },
      stdio: ["ignore", "pipe", "inherit"],
    });
    return JSON.parse(json).map(({ name, description }) => ({ name, description }));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

function manifest(tools) {
  return {
    manifest_version: "0.3",
    name: pkg.name,
    display_name: "Claude MPM Gateway",
    version: pkg.version,
    description: pkg.description,
    long_description:
      "One MCP gateway per installation. Every client that launches it (Claude Desktop, Claude Code, Cursor) " +
      "shares one background gateway process with its built-in tools and the MCP servers listed in " +
      "~/.claude-mpm/mcp/config.json, which start once instead of once per client.",
    author: typeof pkg.author === "object" ? pkg.author : { name: pkg.author ?? "claude-mpm-gateway contributors" },
    license: pkg.license,
    keywords: ["mcp", "gateway", "proxy", "claude-mpm"],
    server: {
      type: "binary",
      entry_point: `server/${exe}`,
      mcp_config: { command: `\${__dirname}/server/${exe}`, args: [], env: {} },
    },
    tools,
    // Downstream servers from the user's config add tools at run time.
    tools_generated: true,
    compatibility: { platforms: [platform] },
  };
}

async function main() {
  if (!existsSync(binary)) fail(`${binary} not found: run \`node build.mjs${target === HOST ? "" : ` --target ${target}`}\` first`);
  const stage = mkdtempSync(join(tmpdir(), "cmg-mcpb-"));
  try {
    const tools = listTools();
    mkdirSync(join(stage, "server"));
    copyFileSync(binary, join(stage, "server", exe));
    // The packer records each file's Unix mode: the binary must go in executable.
    if (process.platform !== "win32") chmodSync(join(stage, "server", exe), 0o755);
    const manifestPath = join(stage, "manifest.json");
    writeFileSync(manifestPath, `${JSON.stringify(manifest(tools), null, 2)}\n`);
    mkdirSync(dirname(out), { recursive: true });
    rmSync(out, { force: true });
    const t0 = Date.now();
    // packExtension runs mcpb's validateManifest first and refuses an invalid manifest, printing why.
    if (!(await packExtension({ extensionPath: stage, outputPath: out, silent: true }))) fail("mcpb could not pack the bundle");
    const sha256 = createHash("sha256").update(readFileSync(out)).digest("hex");
    const mib = (n) => (n / 1024 / 1024).toFixed(1);
    console.error(
      `bundle: ${out} (${mib(statSync(out).size)} MiB from a ${mib(statSync(binary).size)} MiB binary in ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
        `${tools.length} tools; sha256 ${sha256})`,
    );
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

main().catch((err) => fail(err.stack ?? String(err)));
