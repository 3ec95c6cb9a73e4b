// Upgrade in place, measured (issue 14): what a newer release costs the client that brings it, and the
// clients already connected. A second release is built from this source with a higher version; per run a
// fresh home gets a primary of dist/'s release with the memory server and one client of it kept open, then:
// the new release's client spawn → `initialize` answered (the upgrade included), and the old client's first
// call after it. Baseline: the same spawn → `initialize` against a primary of the same version.
// `node --import tsx bench/upgrade.ts` (BENCH_RUNS, default 7).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, Client, envFor, rpc, serverSpecs, sleep, writeConfig } from "./kit.js";
import { fmt, machine, median, spawnToExit, spawnToInit, writeSection } from "./lib.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const OLD = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
const [major, minor, patch] = OLD.split(/[.+-]/).map(Number) as [number, number, number];
const NEXT = `${major}.${minor}.${patch + 1}-bench.1`;

interface Status {
  pid: number;
  version: string;
  downstream: Array<{ name: string; pid: number | null }>;
}
const status = (bin: string, home: string): Status => JSON.parse(execFileSync(bin, ["status", "--json"], { env: envFor(home), encoding: "utf8" })) as Status;

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(25);
  }
  throw new Error(`pid ${pid} did not exit`);
}

/** A home whose primary (of `bin`) serves the memory server and one kept client; returns that client. */
async function primed(bin: string): Promise<{ home: string; keep: Client; memoryPid: number; primary: number }> {
  const home = mkdtempSync(join(tmpdir(), "cmg-bench-upg-"));
  const specs = serverSpecs(home);
  writeConfig(home, { memory: specs.memory });
  const keep = new Client(bin, [], envFor(home), "echo", "ping");
  await keep.init();
  await keep.waitForTool("memory__read_graph");
  const s = status(bin, home);
  return { home, keep, memoryPid: s.downstream.find((d) => d.name === "memory")!.pid!, primary: s.pid };
}

async function finish(bin: string, home: string, keep: Client): Promise<void> {
  const { pid } = status(bin, home);
  await keep.proc.end();
  spawnSync(bin, ["stop"], { env: envFor(home) });
  await waitGone(pid);
  rmSync(home, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "cmg-bench-release-"));
  const next = join(dir, "claude-mpm-gateway");
  const t0 = performance.now();
  execFileSync(process.execPath, ["build.mjs", "--quiet", "--gateway-version", NEXT, "--out", next], { stdio: ["ignore", "ignore", "ignore"] });
  const buildMs = performance.now() - t0;

  const probe: number[] = [];
  const same: number[] = [];
  const upgrade: number[] = [];
  const oldFirstCall: number[] = [];
  let kept = 0;
  for (let r = 0; r < RUNS; r++) {
    probe.push(await spawnToExit(next, ["--version"], envFor(tmpdir())));

    const base = await primed(BIN);
    same.push(await spawnToInit(BIN, [], envFor(base.home)));
    await finish(BIN, base.home, base.keep);

    const up = await primed(BIN);
    upgrade.push(await spawnToInit(next, [], envFor(up.home)));
    const t = performance.now();
    const r1 = await rpc(up.keep.proc, "tools/call", { name: "echo", arguments: { message: "after" } });
    oldFirstCall.push(performance.now() - t);
    assert.ok(r1.result, JSON.stringify(r1));
    const after = status(next, up.home);
    assert.equal(after.version, NEXT, "the new client's bridge upgraded the primary");
    assert.notEqual(after.pid, up.primary);
    if (after.downstream.find((d) => d.name === "memory")?.pid === up.memoryPid) kept++;
    await finish(next, up.home, up.keep);
  }
  rmSync(dir, { recursive: true, force: true });

  writeSection(
    "Upgrade in place (bench/upgrade.ts)",
    `${machine()}; median of ${RUNS} runs; load average at the end ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}.

| what | median |
|---|---|
| build of a second release (\`build.mjs --gateway-version --out\`, cached Node base) | ${fmt(buildMs)} (one build) |
| \`--version\` of the new binary (the primary's check of an upgrade target) | ${fmt(median(probe))} |
| client of the same release: spawn → \`initialize\` answered (baseline) | ${fmt(median(same))} |
| client of a newer release: spawn → \`initialize\` answered, upgrade included | ${fmt(median(upgrade))} |
| a connected client of the old release: first \`tools/call\` after the upgrade | ${fmt(median(oldFirstCall))} |

The memory server kept its process across the upgrade in ${kept} of ${RUNS} runs.
What the upgrade adds to the start of the newer release's client: the old primary runs the new binary's \`--version\`
(the only-upward check), then hands over as \`restart\` does (see Handover: the next primary's start is most of it), while
the client's first messages wait in its bridge, so none of them meets the old primary going away. The old release's client
pays only its bridge's move. On a loaded machine (see the load average) every step is slower, process starts most.`,
  );
}

await main();
