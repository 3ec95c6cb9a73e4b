import { rank } from "./bm25.js";

/** A tool as the session lists it (the SDK's Tool, narrowed to what search mode reads and writes). */
export interface ListedTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: { type: "object"; properties?: Record<string, unknown>; required?: string[]; [k: string]: unknown };
  outputSchema?: unknown;
  annotations?: Record<string, unknown>;
}

/** A tool result of our own making: text, an error when `isError`. */
export interface TextResult {
  content: Array<{ type: "text"; text: string }>;
  isError?: boolean;
  [key: string]: unknown;
}

/** What search mode works on: the session's own view of its tools and its own call path. */
export interface SearchTarget<R> {
  /** The tools this session may call, under the names it sees (profile applied). */
  tools(): ListedTool[] | Promise<ListedTool[]>;
  /** A call exactly as the session would serve `tools/call` for this name: results and errors alike. */
  call(name: string, args: Record<string, unknown> | undefined): Promise<R>;
}

export const SEARCH_TOOLS = "search_tools";
export const DESCRIBE_TOOLS = "describe_tools";
export const CALL_TOOL = "call_tool";

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;

/**
 * The three tools a search-mode session lists instead of all of its own: a constant few hundred tokens,
 * however many servers are behind the gateway. Their text never names a count, so the list never changes.
 */
export const SEARCH_MODE_TOOLS: readonly ListedTool[] = [
  {
    name: SEARCH_TOOLS,
    title: "Search tools",
    description:
      "Find tools for a task among the many available through this gateway. Returns the best-matching tool names with one-line descriptions. Then use describe_tools for their parameters and call_tool to run one.",
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "What you want to do, in a few words, e.g. \"read a file\"" },
        limit: { type: "integer", minimum: 1, maximum: MAX_LIMIT, description: `How many tools to return (default ${DEFAULT_LIMIT})` },
      },
      required: ["query"],
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  {
    name: DESCRIBE_TOOLS,
    title: "Describe tools",
    description: "Full definitions (description and input schema) of tools by name, as found with search_tools.",
    inputSchema: {
      type: "object",
      properties: { names: { type: "array", items: { type: "string" }, minItems: 1, maxItems: MAX_LIMIT, description: "Tool names" } },
      required: ["names"],
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  {
    name: CALL_TOOL,
    title: "Call a tool",
    description: "Run a tool found with search_tools by its name, with arguments that follow its input schema (see describe_tools).",
    inputSchema: {
      type: "object",
      properties: {
        name: { type: "string", description: "The tool's name" },
        arguments: { type: "object", description: "The tool's arguments", additionalProperties: true },
      },
      required: ["name"],
    },
  },
];

const text = (t: string, isError = false): TextResult => (isError ? { content: [{ type: "text", text: t }], isError } : { content: [{ type: "text", text: t }] });
const oneLine = (s: string | undefined) => (s ?? "").split(/\n\s*\n|(?<=[.!?])\s/, 1)[0]!.replace(/\s+/g, " ").trim();
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Serves one of the three search tools, or returns undefined when `name` is not one of them. `call_tool`
 * resolves to whatever the session's own call of that tool does, errors included, so a model cannot tell it
 * from a direct call.
 */
export function callSearchTool<R>(name: string, args: Record<string, unknown> | undefined, target: SearchTarget<R>): Promise<R | TextResult> | undefined {
  const a = args ?? {};
  switch (name) {
    case SEARCH_TOOLS:
      return search(a, target);
    case DESCRIBE_TOOLS:
      return describe(a, target);
    case CALL_TOOL: {
      if (typeof a.name !== "string" || !a.name) return Promise.resolve(text(`Invalid arguments for ${CALL_TOOL}: name: must be a tool name`, true));
      if (a.arguments !== undefined && !isObject(a.arguments)) return Promise.resolve(text(`Invalid arguments for ${CALL_TOOL}: arguments: must be an object`, true));
      if (SEARCH_MODE_TOOLS.some((t) => t.name === a.name)) return Promise.resolve(text(`${CALL_TOOL} runs the tools that ${SEARCH_TOOLS} finds; call ${a.name} directly`, true));
      return target.call(a.name, a.arguments as Record<string, unknown> | undefined);
    }
    default:
      return undefined;
  }
}

async function search<R>(a: Record<string, unknown>, target: SearchTarget<R>): Promise<TextResult> {
  if (typeof a.query !== "string" || !a.query.trim()) return text(`Invalid arguments for ${SEARCH_TOOLS}: query: must be a non-empty string`, true);
  const limit = a.limit === undefined ? DEFAULT_LIMIT : a.limit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return text(`Invalid arguments for ${SEARCH_TOOLS}: limit: must be a whole number from 1 to ${MAX_LIMIT}`, true);
  }
  const tools = await target.tools();
  const hits = rank(tools, a.query, limit);
  if (!hits.length) return text(`No tool matches "${a.query}" among ${tools.length} tools; try other words.`);
  const lines = hits.map((h) => `${h.doc.name}: ${oneLine(h.doc.description) || "(no description)"}`);
  return text(`${hits.length} of ${tools.length} tools match (best first). ${DESCRIBE_TOOLS} gives their parameters, ${CALL_TOOL} runs one.\n${lines.join("\n")}`);
}

async function describe<R>(a: Record<string, unknown>, target: SearchTarget<R>): Promise<TextResult> {
  const names = a.names;
  if (!Array.isArray(names) || !names.length || names.length > MAX_LIMIT || !names.every((n) => typeof n === "string")) {
    return text(`Invalid arguments for ${DESCRIBE_TOOLS}: names: must be 1 to ${MAX_LIMIT} tool names`, true);
  }
  const byName = new Map((await target.tools()).map((t) => [t.name, t]));
  const found = names.flatMap((n) => {
    const t = byName.get(n);
    return t ? [{ name: t.name, description: t.description, inputSchema: t.inputSchema, ...(t.outputSchema ? { outputSchema: t.outputSchema } : {}) }] : [];
  });
  const unknown = names.filter((n) => !byName.has(n));
  const note = unknown.length ? `\nUnknown tools (use ${SEARCH_TOOLS} to find names): ${unknown.join(", ")}` : "";
  return text(`${JSON.stringify(found, null, 1)}${note}`, found.length === 0);
}
