import { Server, type Transport } from "@modelcontextprotocol/server";
import type { Registry } from "../tools/registry.js";
import type { DownstreamManager } from "../downstream/manager.js";
import { linkSession } from "../downstream/sessionLink.js";
import { GATEWAY_NAME, VERSION } from "../version.js";
import { logger } from "../log.js";

const log = logger("session");

const INSTRUCTIONS =
  "claude-mpm-gateway: built-in tools (echo, calculator, system_info, health_check, document_summarizer) " +
  "and the user's downstream MCP servers, whose tools are named <server>__<tool>.";

/**
 * One client's MCP session, served from the shared registry and the downstream servers. `binding` names the
 * client across takeovers (its bridge's id): the requestState the session hands out is bound to it.
 */
export async function openSession(registry: Registry, transport: Transport, downstream?: DownstreamManager, binding?: string): Promise<Server> {
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
      instructions: INSTRUCTIONS,
    },
  );
  const link = linkSession(server, downstream, binding);
  // Servers still starting are waited for (bounded), so a client that lists once sees every tool.
  server.setRequestHandler("tools/list", async (_req, ctx) => {
    await registry.ready(ctx.mcpReq.signal);
    return { tools: registry.list() };
  });
  server.setRequestHandler("tools/call", (req, ctx) =>
    registry.call(req.params.name, req.params.arguments, ctx.mcpReq.signal, link.origin(ctx)),
  );
  server.onclose = () => link.close();
  server.onerror = (err) => log.debug(`protocol: ${err.message}`);
  await server.connect(transport);
  return server;
}
