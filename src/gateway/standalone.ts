import type { Readable, Writable } from "node:stream";
import type { StatePaths } from "../coordination/paths.js";
import { logger } from "../log.js";
import { LineTransport } from "../transport/lineTransport.js";
import { createSession, serveSession, type SessionOptions } from "./session.js";
import { SessionView } from "../profiles/sessionView.js";
import { createDownstream, createRegistry } from "./services.js";

const log = logger("standalone");

/** Serves one MCP session on the given streams (stdio by default) with no coordination; resolves when it ends. */
export async function runStandalone(
  paths: StatePaths,
  io: { input: Readable; output: Writable } = { input: process.stdin, output: process.stdout },
  options: SessionOptions = {},
): Promise<void> {
  let sessions = 1;
  const registry = createRegistry("standalone", paths, () => sessions);
  const downstream = createDownstream(paths, registry);
  let ended!: () => void;
  const closed = new Promise<void>((resolve) => (ended = resolve));
  const transport = new LineTransport({
    ...io,
    onWarning: (m) => log.warn(m),
    onClosed: () => {
      sessions = 0;
      ended();
    },
  });
  const view = new SessionView(downstream, options);
  const session = serveSession(createSession({ registry, downstream, options, view }), transport);
  downstream.start();
  // An unknown profile: every request is answered with an error naming it, and the user is told here.
  void downstream.configApplied().then(() => {
    const problem = view.problem();
    if (problem) log.error(problem);
  });
  log.info("serving MCP on stdio (standalone)");
  // A signal ends the session as a closed stdin does, so its downstream servers (own process groups, no
  // watchdog here) are stopped rather than left running; the input is let go too, or a client that keeps
  // its end of stdin open would keep this process alive.
  const onSignal = () => {
    void transport.close();
    io.input.destroy();
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.once(s, onSignal);
  await closed;
  for (const s of signals) process.off(s, onSignal);
  await session.close();
  await downstream.stop();
}
