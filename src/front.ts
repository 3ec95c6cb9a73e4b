// The binary's entry (the SEA's main script): a plain client launch runs the bridge from a small bundle;
// every other command line evaluates the whole program (main.ts, bundled apart as gateway-full.cjs). A
// bridge that evaluated the whole 2 MB bundle kept ~5 MiB more private memory and started slower, and every
// client launches one. The whole program rides in the binary as a SEA asset with a V8 code cache made at
// build time by the same Node, so the primary and the other commands start as fast as before.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { bridgeLaunch, type BridgeLaunch } from "./cli/bridgeArgs.js";
import { exitQuietlyOnEpipe, reportError } from "./cli/report.js";
import { serveBridge } from "./cli/serveBridge.js";
import { configureLogging } from "./log.js";

declare const __FULL_WRAPPER__: [string, string];

/** The whole program's bundle, and its code cache, as build.mjs names them (asset keys and files in dist/). */
export const FULL_BUNDLE = "gateway-full.cjs";
export const FULL_CACHE = "gateway-full.cache";

type Sea = { isSea(): boolean; getAsset(key: string): ArrayBuffer; getRawAsset?(key: string): ArrayBuffer };

function sea(): Sea | undefined {
  try {
    const s = process.getBuiltinModule?.("node:sea") as Sea | undefined;
    return s?.isSea() ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Evaluates the whole program, which runs the command line itself (main.ts). */
function runFull(): void {
  const s = sea();
  if (!s) {
    // `node dist/gateway.cjs`: the whole program is the file beside this one.
    createRequire(__filename)(join(dirname(__filename), FULL_BUNDLE));
    return;
  }
  // The bundle is ASCII (esbuild escapes the rest), so latin1 reads it as fast as a copy; a UTF-8 decode
  // of its 2 MB took 20-50 ms. getRawAsset (Node 24) hands out the blob's bytes without copying them first.
  const asset = (key: string) => Buffer.from(s.getRawAsset ? s.getRawAsset(key) : s.getAsset(key));
  const source = asset(FULL_BUNDLE).toString("latin1");
  let cachedData: Buffer | undefined;
  try {
    cachedData = asset(FULL_CACHE);
  } catch {
    // A cross-build carries no code cache (only the target's own Node can make one): compiled as it runs.
  }
  // The same text build.mjs made the code cache from (it defines the wrapper), or V8 refuses the cache.
  const [head, tail] = __FULL_WRAPPER__;
  const script = new Script(head + source + tail, { filename: join(dirname(process.execPath), FULL_BUNDLE), ...(cachedData ? { cachedData } : {}) });
  // The build's smoke test asks: a refused cache would silently cost every start the whole compile.
  if (cachedData && script.cachedDataRejected !== false && process.env.CLAUDE_MPM_GATEWAY_CHECK_CACHE) process.stderr.write("code cache rejected\n");
  const wrapper = script.runInThisContext() as (exports: object, req: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;
  const module = { exports: {} };
  // Inside a SEA `require` loads built-in modules only, which is all the bundle asks for.
  wrapper(module.exports, require, module, process.execPath, dirname(process.execPath));
}

/** The bridge, as cli/index.ts would run it for the same command line. */
function runBridge(launch: BridgeLaunch): void {
  exitQuietlyOnEpipe();
  if (launch.level) configureLogging({ level: launch.level });
  serveBridge(launch.paths, launch.session).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportError(err);
    },
  );
}

function start(): void {
  const launch = bridgeLaunch(process.argv.slice(2), process.env);
  if (launch) runBridge(launch);
  else runFull();
}

start();
