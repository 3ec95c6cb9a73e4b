import { CLIENT_INFO_META_KEY, Server, type CallToolResult, type McpServerFactory, type ServerContext, type Tool, type Transport } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import type { Registry } from "../tools/registry.js";
import type { DownstreamManager } from "../downstream/manager.js";
import { linkSession } from "../downstream/sessionLink.js";
import { SessionView } from "../profiles/sessionView.js";
import { unknownToolResult, type CallOrigin } from "../tools/types.js";
import { GATEWAY_NAME, VERSION } from "../version.js";
import { logger } from "../log.js";
import { VersionGuard } from "./versionGuard.js";
import type { FastLane } from "./lane.js";

const log = logger("session");

const INSTRUCTIONS =
  "claude-mpm-gateway: built-in tools (echo, calculator, system_info, health_check, document_summarizer) " +
  "and the user's downstream MCP servers, whose tools are named <server>__<tool>.";

/** Said to a client in search mode, whose list shows none of the tools themselves. */
const SEARCH_INSTRUCTIONS = "Its tools are found with search_tools, described with describe_tools and run with call_tool.";

/** What a session is served from: the process's shared parts and this session's own options. */
export interface SessionDeps {
  /** The tools (built-ins and downstream), shared by every session of the process. */
  registry: Registry;
  /** The downstream servers' resources, prompts and notifications; absent where none are configured. */
  downstream?: DownstreamManager;
  /** The client's own choices, such as the profile it asked for. */
  options?: SessionOptions;
  /** The view those choices make (profile, name limit), when the channel keeps it (status); else built here. */
  view?: SessionView;
  /** The channel's fast lane for plain calls (a bridge's session in the primary), given each legacy instance. */
  lane?: FastLane;
}

/** Per-session options a client (or the channel it came in on) chooses: its own view of the gateway. */
export interface SessionOptions {
  /** A profile of config.json's `profiles` (`--profile`). */
  profile?: string;
  /** The longest tool name the client accepts (`--max-name-length`). */
  maxNameLength?: number;
  /** Names the client across takeovers (its bridge's id): the requestState the session hands out is bound to it. */
  binding?: string;
}

/**
 * The session factory: every channel the gateway serves (a bridge's socket in the primary, stdio in
 * --standalone, the Streamable HTTP endpoint) builds its MCP server instances with it, one per connection
 * (or per HTTP request). It holds no state of its own: everything shared comes in `deps`, everything a
 * session holds lives in the instance it returns and goes with it.
 *
 * ```ts
 * const factory = createSession({ registry, downstream });
 * const handle = serveSession(factory, new LineTransport({ input, output })); // stdio-like channels, both eras
 * const http = createMcpHttp(factory); // Streamable HTTP, both eras
 * ```
 *
 * `ctx.era` says which protocol era the instance serves; the SDK's entries (serveSession/serveStdio,
 * createMcpHandler) decide it from the client's opening message and install the modern-only handlers
 * (server/discover, the per-request `_meta` checks, subscriptions/listen) themselves.
 */
export function createSession(deps: SessionDeps): McpServerFactory {
  return ({ era }) => {
    const { registry, downstream, options } = deps;
    // This client's profile and name limit, applied to every list and call, tools, prompts and resources alike.
    const view = deps.view ?? new SessionView(downstream, options);
    // Who the client is, for status: a modern request says so in its envelope, a legacy client said it at initialize.
    const noteClient = (ctx: ServerContext) => {
      const info = (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_INFO_META_KEY] as { name?: unknown } | undefined;
      const name = typeof info?.name === "string" ? info.name : server.getClientVersion()?.name;
      if (name !== undefined) view.client = name;
    };
    const server = new Server(
      { name: GATEWAY_NAME, version: VERSION, title: "Claude MPM Gateway" },
      {
        capabilities: {
          tools: { listChanged: true },
          resources: { subscribe: true, listChanged: true },
          prompts: { listChanged: true },
          completions: {},
          logging: {},
        },
        instructions: view.searchMode() ? `${INSTRUCTIONS} ${SEARCH_INSTRUCTIONS}` : INSTRUCTIONS,
      },
    );
    const link = linkSession(server, downstream, options?.binding ?? "", era, view);
    // Servers still starting are waited for (bounded), so a client that lists once sees every tool.
    server.setRequestHandler("tools/list", async (_req, ctx) => {
      noteClient(ctx);
      await registry.ready(ctx.mcpReq.signal);
      return { tools: view.tools(registry.list()) as Tool[] };
    });
    const callTool = (name: string, args: Record<string, unknown> | undefined, signal: AbortSignal, origin: () => CallOrigin) =>
      view.callTool(name, args, {
        all: () => registry.list(),
        ready: () => registry.ready(signal),
        call: (real, a) => registry.call(real, a, signal, origin()),
        unknown: unknownToolResult,
      });
    const lane = era === "legacy" ? deps.lane : undefined;
    server.setRequestHandler("tools/call", (req, ctx) => {
      // A call the lane already ran (its outcome is the Server's to check and encode): not run again.
      const settled = lane?.preAnswered(ctx.mcpReq.id);
      if (settled) return settled.ok ? (settled.value as CallToolResult) : Promise.reject(settled.error as Error);
      noteClient(ctx);
      return callTool(req.params.name, req.params.arguments, ctx.mcpReq.signal, () => link.origin(ctx));
    });
    lane?.attach({
      // Initialized (the client's capabilities known), and the call is one the Server would serve as it is:
      // a name the view calls directly, of a built-in or of a legacy server's tool (a modern server's answer
      // may be an input_required, which a legacy client gets through the SDK's shim).
      takes: (name) => server.getClientCapabilities() !== undefined && view.callsDirectly(name) && (registry.isBuiltin(name) || downstream?.legacyTool(name) === true),
      origin: (progressToken, sent) => link.laneOrigin(progressToken, sent),
      call: (name, args, signal, origin) => {
        const client = server.getClientVersion()?.name;
        if (client !== undefined) view.client = client;
        // `takes` said, in this same turn, that the view calls `name` as it is: what view.callTool does then.
        return registry.call(name, args, signal, origin);
      },
    });
    server.onclose = () => link.close();
    server.onerror = (err) => log.debug(`protocol: ${err.message}`);
    return server;
  };
}

/** A connection being served; `close()` ends it (a modern client's listen streams get their graceful end). */
export interface SessionHandle {
  close(): Promise<void>;
}

/**
 * Serves one connection (newline-delimited JSON-RPC over any Transport) from the factory, in the era the
 * client opens with: `initialize` pins a 2025-era session; `server/discover` or a request with the 2026-07-28
 * `_meta` envelope pins a modern one (spec 2026-07-28, basic/transports/stdio, "Backward compatibility").
 * The SDK's serveStdio does the era work; the transport is ours, so it works over a socket as over stdio.
 */
export function serveSession(factory: McpServerFactory, transport: Transport): SessionHandle {
  return serveStdio(factory, { legacy: "serve", transport: new VersionGuard(transport), onerror: (err) => log.debug(`protocol: ${err.message}`) });
}
