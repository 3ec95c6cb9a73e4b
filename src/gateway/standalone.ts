import type { Readable, Writable } from "node:stream";
import type { StatePaths } from "../coordination/paths.js";
import { logger } from "../log.js";
import { LineTransport } from "./lineTransport.js";
import { openSession } from "./session.js";
import { createDownstream, createRegistry } from "./runtime.js";

const log = logger("standalone");

/** Serves one MCP session on the given streams (stdio by default) with no coordination; resolves when it ends. */
export async function runStandalone(
  paths: StatePaths,
  io: { input: Readable; output: Writable } = { input: process.stdin, output: process.stdout },
): Promise<void> {
  let sessions = 1;
  const registry = createRegistry("standalone", paths, () => sessions);
  const downstream = createDownstream(paths, registry);
  const transport = new LineTransport({ ...io, onWarning: (m) => log.warn(m) });
  const ended = new Promise<void>((resolve) => {
    transport.onclose = () => {
      sessions = 0;
      resolve();
    };
  });
  const server = await openSession(registry, transport, downstream);
  downstream.start();
  log.info("serving MCP on stdio (standalone)");
  await ended;
  await server.close();
  await downstream.stop();
}
