// Helpers of the downstream suite: configs pointing at the reference servers and the flaky fixture, run by
// this machine's node (the gateway's PATH has none), and waits on what a client sees.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Client } from "@modelcontextprotocol/client";
import type { Tool } from "@modelcontextprotocol/client";
import { run, waitFor, type Install } from "./harness.js";

const pkg = (name: string) => resolve("node_modules", "@modelcontextprotocol", name, "dist", "index.js");

/** Stdio server entries for config.json. */
export const SERVERS = {
  everything: () => ({ command: process.execPath, args: [pkg("server-everything")] }),
  memory: () => ({ command: process.execPath, args: [pkg("server-memory")] }),
  filesystem: (dir: string) => ({ command: process.execPath, args: [pkg("server-filesystem"), dir] }),
  flaky: (stateDir: string, env: Record<string, string> = {}) => ({
    command: process.execPath,
    args: [resolve("test", "fixtures", "flaky-server.mjs")],
    env: { FLAKY_STATE: stateDir, ...env },
  }),
};

/** server-everything's entry script (its `streamableHttp` argument serves it over HTTP on $PORT). */
export const EVERYTHING_SCRIPT = pkg("server-everything");

/** The config file of a home. */
export function configPath(home: string): string {
  return join(home, "mcp", "config.json");
}

/** Writes config.json the way an editor that saves atomically would (temp file + rename). */
export function writeConfig(home: string, servers: Record<string, unknown> | string): void {
  mkdirSync(join(home, "mcp"), { recursive: true, mode: 0o700 });
  const tmp = `${configPath(home)}.tmp`;
  writeFileSync(tmp, typeof servers === "string" ? servers : JSON.stringify({ mcpServers: servers }, null, 2));
  renameSync(tmp, configPath(home));
}

/** The primary's log file of a home. */
export function logText(home: string): string {
  try {
    return readFileSync(join(home, "mcp", "logs", "gateway.log"), "utf8");
  } catch {
    return "";
  }
}

/** Polls tools/list until `check` accepts it; returns that list. */
export async function waitForTools(client: Client, what: string, check: (names: string[]) => boolean, timeoutMs = 30_000): Promise<Tool[]> {
  let tools: Tool[] = [];
  await waitFor(
    what,
    async () => {
      tools = (await client.listTools()).tools;
      return check(tools.map((t) => t.name));
    },
    timeoutMs,
  );
  return tools;
}

/** The text of a tool result's first content item. */
export function textOf(result: unknown): string {
  const first = ((result as { content?: unknown }).content as Array<{ type: string; text?: string }> | undefined)?.[0];
  return first?.type === "text" ? (first.text ?? "") : JSON.stringify(result);
}

/** One downstream line of `status --json`. */
export type { DownstreamStatus as DownstreamLine } from "../../src/coordination/status.js";
import type { DownstreamStatus as DownstreamLine } from "../../src/coordination/status.js";

/** The downstream part of `status --json`. */
export function downstreamStatus(install: Install, home: string): DownstreamLine[] {
  const r = run(install, home, ["status", "--json"]);
  return (JSON.parse(r.stdout) as { downstream?: DownstreamLine[] }).downstream ?? [];
}

/** True while a process exists and is not a zombie. */
export { isAlive as alive } from "./harness.js";

/** Lines of a file the fixture appends to, or [] while it does not exist. */
export function fixtureLines(stateDir: string, file: string): string[] {
  try {
    return readFileSync(join(stateDir, file), "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}
