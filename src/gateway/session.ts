import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Registry } from "../tools/registry.js";
import { GATEWAY_NAME, VERSION } from "../version.js";
import { logger } from "../log.js";

const log = logger("session");

const INSTRUCTIONS =
  "claude-mpm-gateway: built-in tools (echo, calculator, system_info, health_check, document_summarizer) " +
  "and the user's downstream MCP servers, whose tools are named <server>__<tool>.";

/** One client's MCP session, served from the shared registry. */
export async function openSession(registry: Registry, transport: Transport): Promise<Server> {
  const server = new Server(
    { name: GATEWAY_NAME, version: VERSION, title: "Claude MPM Gateway" },
    { capabilities: { tools: { listChanged: true }, logging: {} }, instructions: INSTRUCTIONS },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: registry.list() }));
  server.setRequestHandler(CallToolRequestSchema, (req, extra) =>
    registry.call(req.params.name, req.params.arguments, extra.signal),
  );
  server.onerror = (err) => log.debug(`protocol: ${err.message}`);
  await server.connect(transport);
  return server;
}
