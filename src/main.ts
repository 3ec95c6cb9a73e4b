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
} else {
  start();
}
