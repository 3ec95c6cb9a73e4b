import { startupSnapshot } from "node:v8";
import { runCli } from "./cli/index.js";

function start(): void {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`claude-mpm-gateway: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

if (startupSnapshot?.isBuildingSnapshot()) {
  // Built into a V8 startup snapshot: evaluate the lazily loaded MCP side now, so it costs nothing at run
  // time, and read argv and env only when the binary runs.
  void import("./gateway/runtime.js");
  startupSnapshot.setDeserializeMainFunction(start);
} else if ((globalThis as { __cmgWarmCodeCache?: boolean }).__cmgWarmCodeCache) {
  // build.mjs making the code cache of this bundle (src/front.ts runs it from the binary): the runtime's
  // modules are evaluated, not run, so their compiled functions go into the cache and a primary, a
  // --standalone or a serve --http does not compile them at every start.
  void import("./gateway/runtime.js");
} else {
  start();
}
