import { Client, type CallToolResult, type Tool } from "@modelcontextprotocol/client";
import { coordinatesFor, tryConnect } from "../coordination/client.js";
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
export async function openToolSource(paths: StatePaths): Promise<ToolSource> {
  const conn = await tryConnect(coordinatesFor(paths), "session");
  if (conn) {
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
  const { createDownstream, createRegistry } = await import("../gateway/services.js");
  const registry = createRegistry("cli", paths);
  const downstream = createDownstream(paths, registry, "cli");
  // Apply the config once, without watching it: the command lasts only as long as its one question.
  await downstream.reload();
  const deadline = Date.now() + SETTLE_MS;
  while (Date.now() < deadline && downstream.status().some((s) => s.state === "starting")) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    origin: "local",
    list: async () => registry.list(),
    call: (name, args) => registry.call(name, args, new AbortController().signal),
    close: () => downstream.stop(),
  };
}
