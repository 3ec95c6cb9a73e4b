// Shared by the built-in tool tests: a real Registry over a fake gateway state, so every call goes through
// the same argument validation a client's call does.
import assert from "node:assert/strict";
import type { CallToolResult } from "@modelcontextprotocol/server";
import { Registry } from "../../src/tools/registry.js";
import { builtinTools } from "../../src/tools/builtin.js";
import type { GatewayState } from "../../src/tools/types.js";

/** A gateway state for tests; override what a test needs. */
export function fakeState(overrides: Partial<GatewayState> = {}): GatewayState {
  return {
    version: "1.2.3-test",
    mode: "cli",
    startedAt: new Date(),
    stateDir: "/nonexistent/state",
    configPath: "/nonexistent/state/config.json",
    sessionCount: () => 0,
    toolNames: () => builtinTools.map((t) => t.name),
    ...overrides,
  };
}

/** A registry of the built-ins and a caller bound to one tool. */
export function toolUnderTest(name: string, state: GatewayState = fakeState()) {
  const registry = new Registry(builtinTools, state);
  const call = (args: Record<string, unknown>): Promise<CallToolResult> => registry.call(name, args, new AbortController().signal);
  return { registry, call };
}

/** The text of a result's first content item (which must be text). */
export function text(result: CallToolResult): string {
  const first = result.content[0];
  assert.equal(first?.type, "text");
  return first.text;
}

/** A result's structured content as an object (the v2 types leave it `unknown`: SEP-2106 allows any JSON). */
export function structured(result: CallToolResult): Record<string, unknown> {
  const sc = result.structuredContent;
  assert.ok(typeof sc === "object" && sc !== null && !Array.isArray(sc), "the result carries an object as structured content");
  return sc as Record<string, unknown>;
}
