import type { CallToolResult, Tool } from "@modelcontextprotocol/client";
import type { StatePaths } from "../coordination/paths.js";
import type { SessionRequest } from "../coordination/handshake.js";
import { GatewayError } from "../errors.js";
import { parseNameLimit } from "../profiles/nameLimit.js";
import { SEARCH_TOOLS } from "../profiles/searchMode.js";
import { ESTIMATE_NOTE, estimateTools } from "../profiles/tokens.js";
import { EXIT } from "./exitCodes.js";
import { openToolSource, type ToolSource } from "./toolSource.js";

const out = (s: string) => process.stdout.write(s + "\n");

/** Runs `fn` against the gateway's tools and always releases what serving them took. */
async function withTools<T>(paths: StatePaths, fn: (source: ToolSource) => Promise<T>, session: SessionRequest = {}): Promise<T> {
  const source = await openToolSource(paths, session);
  try {
    return await fn(source);
  } finally {
    await source.close();
  }
}

/** The flags of `tools`. */
export interface ToolsOptions {
  json?: boolean;
  verbose?: boolean;
  tokens?: boolean;
  profile?: string;
  maxNameLength?: string | number;
}

/** The session a client with these flags would get. */
function sessionOf(opts: ToolsOptions): SessionRequest {
  return {
    ...(opts.profile !== undefined ? { profile: String(opts.profile) } : {}),
    ...(opts.maxNameLength !== undefined ? { maxNameLength: parseNameLimit(opts.maxNameLength) } : {}),
  };
}

/** `tools [--json] [--verbose] [--tokens] [--profile <name>]`: the tools a client with that profile is listed. */
export async function toolsCommand(paths: StatePaths, opts: ToolsOptions): Promise<number> {
  const session = sessionOf(opts);
  const tools = await withTools(paths, (source) => source.list(), session);
  if (opts.tokens) return printTokens(tools, session, opts);
  if (opts.json) {
    const shown = opts.verbose ? tools : tools.map(({ name, title, description }) => ({ name, title, description }));
    out(JSON.stringify(shown, null, 2));
    return EXIT.OK;
  }
  const width = Math.max(...tools.map((t) => t.name.length));
  for (const t of tools) {
    out(`${t.name.padEnd(width)}  ${firstSentence(t.description ?? "")}`);
    if (opts.verbose) out(indent(JSON.stringify(t.inputSchema, null, 2)) + "\n");
  }
  return EXIT.OK;
}

/** `tools --tokens`: each listed tool's estimated cost in the model's context, and the total. */
async function printTokens(tools: Tool[], session: SessionRequest, opts: ToolsOptions): Promise<number> {
  const estimate = await estimateTools(tools);
  const profile = session.profile ?? null;
  const search = tools.some((t) => t.name === SEARCH_TOOLS);
  if (opts.json) {
    out(JSON.stringify({ profile, search, tools: estimate.tools, total: estimate.total, note: ESTIMATE_NOTE }, null, 2));
    return EXIT.OK;
  }
  const width = Math.max(6, String(estimate.total).length);
  out(`${"TOKENS".padStart(width)}  TOOL`);
  for (const t of estimate.tools) out(`${String(t.tokens).padStart(width)}  ${t.name}`);
  const what = `${tools.length} tool${tools.length === 1 ? "" : "s"}${profile ? `, profile "${profile}"` : ""}${search ? ", search mode" : ""}`;
  out(`${String(estimate.total).padStart(width)}  total (${what})`);
  out(`Counts are ${ESTIMATE_NOTE}.`);
  return EXIT.OK;
}

function firstSentence(text: string): string {
  const m = /^(.+?[.!?])(?=\s+[A-Z(]|$)/s.exec(text);
  return m ? m[1]! : text;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

/** `test <tool> [json-args]`: one call; exit 0 on success, 1 on a tool error, 2 on a usage error. */
export async function testCommand(paths: StatePaths, tool: string, rawArgs: string | undefined, opts: { json?: boolean }): Promise<number> {
  let args: Record<string, unknown> = {};
  if (rawArgs !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawArgs);
    } catch (err) {
      throw new GatewayError("USAGE", `arguments must be a JSON object, e.g. '{"message":"hi"}' (${(err as Error).message})`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new GatewayError("USAGE", `arguments must be a JSON object, e.g. '{"message":"hi"}'`);
    }
    args = parsed as Record<string, unknown>;
  }
  const result = await withTools(paths, async (source) => {
    if (!(await source.list()).some((t) => t.name === tool)) {
      throw new GatewayError("TOOL_NOT_FOUND", `unknown tool "${tool}"; run "claude-mpm-gateway tools" to list them`);
    }
    return source.call(tool, args);
  });
  if (opts.json) out(JSON.stringify(result, null, 2));
  else if (!result.isError) out(renderContent(result));
  if (result.isError) {
    if (!opts.json) process.stderr.write(`claude-mpm-gateway: ${tool}: ${renderContent(result)}\n`);
    return EXIT.FAILURE;
  }
  return EXIT.OK;
}

function renderContent(result: CallToolResult): string {
  return result.content.map((c) => (c.type === "text" ? c.text : JSON.stringify(c))).join("\n");
}
