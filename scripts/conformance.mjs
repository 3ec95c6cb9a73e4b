// Runs the official MCP conformance suite's server scenarios (@modelcontextprotocol/conformance, a dev
// dependency) against a Streamable HTTP endpoint, one scenario at a time, and prints one line per scenario
// and a closing "N passed, N failed" line. Exit 0 when every scenario passed, the failures named in the
// baseline aside (the suite's own --expected-failures YAML: `server:` then `- scenario` or
// `- scenario:check-id` entries; a baselined check that passes again fails the run, so the file stays true).
//
//   node scripts/conformance.mjs --url http://127.0.0.1:8080/mcp [--scenario a,b,...] [--expected-failures file]
//
// The suite needs Node >= 22: it runs under the Node executing this script when that is new enough, else
// under the pinned Node 24 that `node build.mjs` downloads into .cache/node. Scenario output is kept in
// --output-dir (default a temp dir) for a closer look at a failure.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = resolve(import.meta.dirname, "..");

/**
 * Scenarios that hold for any server on this transport: lifecycle, sessions, the stateless era, the HTTP
 * headers, DNS rebinding, streams, listing. The rest of the suite calls tools, prompts and resources of
 * the suite's own reference server (test_simple_text, ...) and belongs to a target that serves them.
 */
export const TRANSPORT_SCENARIOS = [
  "server-initialize",
  "server-session-lifecycle",
  "server-stateless",
  "ping",
  "tools-list",
  "dns-rebinding-protection",
  "http-header-validation",
  "server-sse-multiple-streams",
  "caching",
];

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    scenario: { type: "string" },
    "expected-failures": { type: "string" },
    "output-dir": { type: "string" },
    timeout: { type: "string", default: "60000" },
  },
});
if (!values.url) {
  process.stderr.write("usage: node scripts/conformance.mjs --url <MCP endpoint> [--scenario a,b] [--expected-failures file]\n");
  process.exit(2);
}

/** A Node >= 22 to run the suite with. */
function suiteNode() {
  if (Number(process.versions.node.split(".")[0]) >= 22) return process.execPath;
  const arch = process.arch === "arm64" ? "arm64" : "x64";
  const pinned = join(root, ".cache", "node", `node-linux-${arch}-24.21.0`, "package", "bin", "node");
  if (process.platform === "linux" && existsSync(pinned)) return pinned;
  process.stderr.write(`conformance: needs Node >= 22; run \`node build.mjs\` first (it fetches the pinned Node 24 into .cache/node)\n`);
  process.exit(2);
}

const cli = join(root, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js");
const node = suiteNode();
const scenarios = values.scenario ? values.scenario.split(",").map((s) => s.trim()).filter(Boolean) : TRANSPORT_SCENARIOS;
const baseline = values["expected-failures"] ? ["--expected-failures", resolve(values["expected-failures"])] : [];
const out = values["output-dir"] ?? mkdtempSync(join(tmpdir(), "mcp-conformance-"));
let passed = 0;
let failed = 0;
for (const scenario of scenarios) {
  const r = spawnSync(node, [cli, "server", "--url", values.url, "--scenario", scenario, "--timeout", values.timeout, "-o", out, ...baseline], {
    encoding: "utf8",
    timeout: Number(values.timeout) + 30_000,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  // eslint-disable-next-line no-control-regex -- the suite colours its output whatever NO_COLOR says
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`.replace(/\x1b\[[0-9;]*m/g, "");
  const summary = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(text);
  // The suite's exit code already weighs the baseline: 0 = passed or failed only where expected.
  const ok = r.status === 0 && summary !== null;
  if (ok) passed++;
  else failed++;
  const baselined = ok && summary[3] !== "0" ? `, ${summary[3]} baselined` : "";
  process.stdout.write(`${ok ? "pass" : "FAIL"} ${scenario}${summary ? ` (${summary[1]}/${summary[2]} checks${baselined})` : ""}\n`);
  if (!ok) {
    for (const line of text.split("\n").filter((l) => /FAILURE|Error|error:/.test(l)).slice(0, 10)) process.stdout.write(`    ${line.trim()}\n`);
  }
}
process.stdout.write(`conformance: ${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
