import { Client, type CallToolResult, type Tool } from "@modelcontextprotocol/client";
import { coordinatesFor, tryConnect } from "../coordination/client.js";
import type { SessionRequest } from "../coordination/handshake.js";
import { loadConfig } from "../downstream/config.js";
import { GatewayError } from "../errors.js";
import { SessionView } from "../profiles/sessionView.js";
import { profileFor } from "../profiles/view.js";
import { unknownToolResult } from "../tools/types.js";
import type { StatePaths } from "../coordination/paths.js";
import { LineTransport } from "../transport/lineTransport.js";
import { VERSION } from "../version.js";

/** Where `tools` and `test` get the gateway's tools: the running primary, else this process. */
export interface ToolSource {
  /** "primary" when a running gateway answered, "local" when this process served them itself. */
  readonly origin: "primary" | "local";
  list(): Promise<Tool[]>;
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** Downstream servers still starting after this long are listed as they are (their tools missing). */
const SETTLE_MS = 15_000;

/**
 * The tools the gateway serves, as a client would see them: asked of the running primary over an MCP
 * session when one runs (so its downstream servers are not started twice), else served by a registry and
 * downstream servers started in this process for the command's duration.
 */
export async function openToolSource(paths: StatePaths, session: SessionRequest = {}): Promise<ToolSource> {
  const conn = await tryConnect(coordinatesFor(paths), "session", undefined, session);
  if (conn) {
    // The primary serves this session as it would a client with these flags; a profile it lacks is an error here.
    if (conn.welcome.warning) {
      conn.socket.destroy();
      throw new GatewayError("PROFILE_UNKNOWN", conn.welcome.warning);
    }
    const client = new Client({ name: "claude-mpm-gateway-cli", version: VERSION });
    await client.connect(new LineTransport({ input: conn.socket, output: conn.socket, endOutput: true }));
    return {
      origin: "primary",
      list: async () => {
        const tools: Tool[] = [];
        let cursor: string | undefined;
        do {
          const page = await client.listTools(cursor ? { cursor } : {});
          tools.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor);
        return tools;
      },
      call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
      close: () => client.close(),
    };
  }
  // An unknown profile (or a config that cannot be read, whose own error says why) fails before any server starts.
  if (session.profile !== undefined) profileFor(loadConfig(paths.configFile).profiles, session.profile, paths.configFile);
  const { createDownstream, createRegistry } = await import("../gateway/services.js");
  const registry = createRegistry("cli", paths);
  const downstream = createDownstream(paths, registry, "cli");
  // Apply the config once, without watching it: the command lasts only as long as its one question.
  await downstream.reload();
  const deadline = Date.now() + SETTLE_MS;
  while (Date.now() < deadline && downstream.status().some((s) => s.state === "starting")) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const view = new SessionView(downstream, session);
  const signal = new AbortController().signal;
  return {
    origin: "local",
    list: async () => view.tools(registry.list()) as Tool[],
    call: async (name, args) =>
      (await view.callTool(name, args, {
        all: () => registry.list(),
        ready: () => registry.ready(signal),
        call: (real, a) => registry.call(real, a, signal),
        unknown: unknownToolResult,
      })) as CallToolResult,
    close: () => downstream.stop(),
  };
}
