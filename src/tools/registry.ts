import * as z from "zod";
import type { CallToolResult, Tool } from "@modelcontextprotocol/server";
import type { BuiltinTool, CallOrigin, GatewayState, ToolContext } from "./types.js";
import { errorResult, unknownToolResult } from "./types.js";
import { describeError } from "../errors.js";

/** A tool source other than the built-ins (a downstream server) plugs in through this. */
export interface ToolProvider {
  list(): Tool[];
  /** Returns undefined when the name is not this provider's. */
  call(name: string, args: Record<string, unknown>, ctx: ToolContext): Promise<CallToolResult> | undefined;
  /** Resolves once the provider's tools are all listed or a bound has passed (its sources may be starting). */
  ready?(signal?: AbortSignal): Promise<void>;
}

interface Compiled {
  tool: BuiltinTool;
  input: z.ZodObject<z.ZodRawShape>;
  listing: Tool;
}

function compile(tool: BuiltinTool): Compiled {
  const input = z.object(tool.inputSchema).strict();
  const listing: Tool = {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: toJsonSchema(input) as Tool["inputSchema"],
    annotations: { title: tool.title, ...tool.annotations },
  };
  if (tool.outputSchema) listing.outputSchema = toJsonSchema(z.object(tool.outputSchema)) as Tool["outputSchema"];
  return { tool, input, listing };
}

function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join(".") : "(arguments)"}: ${i.message}`)
    .join("; ");
}

/** The shared tool registry: one per process, serving every session the same tools. */
export class Registry {
  private readonly builtins = new Map<string, Compiled>();
  private readonly providers: ToolProvider[] = [];

  constructor(
    tools: BuiltinTool[],
    private readonly gateway: GatewayState,
  ) {
    for (const t of tools) this.builtins.set(t.name, compile(t));
  }

  /** Adds a downstream source of tools. */
  addProvider(provider: ToolProvider): void {
    this.providers.push(provider);
  }

  /** Every tool a client can call, built-ins first. */
  list(): Tool[] {
    return [...[...this.builtins.values()].map((c) => c.listing), ...this.providers.flatMap((p) => p.list())];
  }

  /** Resolves once every provider's tools are listed or its bound has passed: list() then holds them all. */
  async ready(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.providers.map((p) => p.ready?.(signal)));
  }

  /** True when `name` is a built-in tool (called before any provider's). */
  isBuiltin(name: string): boolean {
    return this.builtins.has(name);
  }

  /** The names of every tool served. */
  names(): string[] {
    return this.list().map((t) => t.name);
  }

  /** Calls a tool; unknown names, bad arguments and thrown errors all come back as `isError` results. */
  call(name: string, args: Record<string, unknown> | undefined, signal: AbortSignal, origin?: CallOrigin): Promise<CallToolResult> {
    const ctx: ToolContext = origin ? { gateway: this.gateway, signal, origin } : { gateway: this.gateway, signal };
    const builtin = this.builtins.get(name);
    if (builtin) return this.callBuiltin(builtin, args, ctx);
    // A provider's call is handed back as it is (no async wrapper around it: fewer promises per forwarded call).
    let pending: Promise<CallToolResult> | undefined;
    try {
      pending = this.claimed(name, args ?? {}, ctx);
    } catch (err) {
      return Promise.reject(err);
    }
    return pending ?? this.callLater(name, args ?? {}, ctx);
  }

  /** The first provider's call of `name`, or undefined when none has it. */
  private claimed(name: string, args: Record<string, unknown>, ctx: ToolContext): Promise<CallToolResult> | undefined {
    for (const p of this.providers) {
      const pending = p.call(name, args, ctx);
      if (pending) return pending;
    }
    return undefined;
  }

  /** A name no source knows yet may be the tool of a server still starting: asked again once they are up. */
  private async callLater(name: string, args: Record<string, unknown>, ctx: ToolContext): Promise<CallToolResult> {
    await this.ready(ctx.signal);
    return (await this.claimed(name, args, ctx)) ?? unknownToolResult(name);
  }

  private async callBuiltin(builtin: Compiled, args: Record<string, unknown> | undefined, ctx: ToolContext): Promise<CallToolResult> {
    const name = builtin.tool.name;
    const parsed = builtin.input.safeParse(args ?? {});
    if (!parsed.success) return errorResult(`Invalid arguments for ${name}: ${formatIssues(parsed.error)}`);
    try {
      return await builtin.tool.run(parsed.data, ctx);
    } catch (err) {
      return errorResult(`${name} failed: ${describeError(err)}`);
    }
  }
}
