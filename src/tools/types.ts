import type * as z from "zod";
import type { CallToolResult, ClientCapabilities, LoggingLevel, Result, ServerNotification, ServerRequest, ToolAnnotations } from "@modelcontextprotocol/server";

/** What a built-in tool may learn about the gateway that runs it. */
export interface GatewayState {
  version: string;
  /** "primary" behind bridges, "standalone" on its own stdio, "serve" over HTTP only, "cli" for `tools`/`test`. */
  mode: "primary" | "standalone" | "serve" | "cli";
  startedAt: Date;
  stateDir: string;
  configPath: string;
  sessionCount(): number;
  toolNames(): string[];
}

/** The client session a call came from: a downstream server's progress and requests go back through it. */
export interface CallOrigin {
  /** Unique per session in this process. */
  readonly sessionId: number;
  /** The client's progress token for this call, when it asked for progress. */
  readonly progressToken?: string | number;
  notify(notification: ServerNotification): Promise<void>;
  /** Sends a request to the client as part of this call (sampling, elicitation, roots). */
  request(request: ServerRequest, signal: AbortSignal): Promise<Result>;
  clientCapabilities(): ClientCapabilities | undefined;
  /**
   * The client's protocol era: a legacy server's requests during a call reach a modern client as
   * `input_required`, a legacy client as real requests. Absent means legacy.
   */
  readonly era?: "modern" | "legacy";
  /**
   * Names the client's session across takeovers (the bridge's own id where it gives one): the gateway's
   * `requestState` is bound to it, so no other session can use it.
   */
  readonly binding?: string;
  /**
   * The log level this client asked for: a legacy session's logging/setLevel, a modern request's own
   * `_meta` level. Absent: the client asked for no log messages, and gets none.
   */
  readonly logLevel?: LoggingLevel;
  /**
   * Set for a call the session's fast lane serves (src/gateway/lane.ts): a legacy stdio server's answer to it
   * may skip the downstream Client as well (src/downstream/callLane.ts).
   */
  readonly fastLane?: boolean;
  /** A multi-round-trip retry's fields, exactly as the client sent them (untrusted input). */
  readonly retry?: { inputResponses?: Record<string, unknown>; requestState?: string };
}

/** Passed to every tool call. */
export interface ToolContext {
  gateway: GatewayState;
  signal: AbortSignal;
  /** Absent for calls that come from no MCP session (the `test` command). */
  origin?: CallOrigin;
}

/** A tool the gateway serves itself; its schemas are zod shapes, exported to clients as JSON Schema. */
export interface BuiltinTool<S extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  inputSchema: S;
  outputSchema?: z.ZodRawShape;
  annotations: ToolAnnotations;
  /** Arguments arrive validated against `inputSchema`; failures are returned as `isError` results, not thrown. */
  run(args: z.infer<z.ZodObject<S>>, ctx: ToolContext): Promise<CallToolResult>;
}

/** Declares a tool with its argument type inferred from its schema. */
export function defineTool<S extends z.ZodRawShape>(tool: BuiltinTool<S>): BuiltinTool {
  return tool as unknown as BuiltinTool;
}

/** A text result. */
export function textResult(text: string, structured?: Record<string, unknown>): CallToolResult {
  return structured ? { content: [{ type: "text", text }], structuredContent: structured } : { content: [{ type: "text", text }] };
}

/** A tool failure the client sees as `isError: true` with a clear message. */
export function errorResult(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

/** The answer to a call of a tool no source serves. */
export function unknownToolResult(name: string): CallToolResult {
  return errorResult(`Unknown tool "${name}". Run "claude-mpm-gateway tools" to list the tools served.`);
}
