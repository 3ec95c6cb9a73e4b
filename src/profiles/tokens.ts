/** A tool as listed: what the estimate reads of it. */
export interface ToolCost {
  name: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
}

/** Said wherever a count is shown: no client's model tokenizes with exactly this vocabulary. */
export const ESTIMATE_NOTE =
  "estimated tokens (cl100k_base tokenizer); the model's own tokenizer counts differently, so read them as an estimate";

type Counter = (text: string) => number;
let counter: Promise<Counter> | undefined;

/**
 * The tokenizer, loaded on first use: its vocabulary is ~1 MB of JavaScript, so only the commands and sessions
 * that count evaluate it (never the bridge). gpt-tokenizer is pure JavaScript (no wasm, no native addon, no
 * download at run time), so it is bundled into the single executable as it is.
 */
function loadCounter(): Promise<Counter> {
  counter ??= import("gpt-tokenizer/encoding/cl100k_base").then((m) => (text: string) => m.countTokens(text));
  return counter;
}

/**
 * The text a client puts in the model's context for one tool: its name, description and schemas as the
 * model APIs take them (`input_schema`, in Anthropic's tool format), serialized without spaces.
 */
export function modelText(tool: ToolCost): string {
  return JSON.stringify({
    name: tool.name,
    ...(tool.description !== undefined ? { description: tool.description } : {}),
    input_schema: tool.inputSchema ?? { type: "object" },
    ...(tool.outputSchema !== undefined ? { output_schema: tool.outputSchema } : {}),
  });
}

/** Each tool's estimated tokens, in the order given, and their total. */
export async function estimateTools(tools: readonly ToolCost[]): Promise<{ tools: Array<{ name: string; tokens: number }>; total: number }> {
  const count = await loadCounter();
  const each = tools.map((t) => ({ name: t.name, tokens: count(modelText(t)) }));
  return { tools: each, total: each.reduce((sum, t) => sum + t.tokens, 0) };
}
