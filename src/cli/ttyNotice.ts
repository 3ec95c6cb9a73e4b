import { isatty } from "node:tty";
import { readInstance } from "../coordination/instanceFile.js";
import type { StatePaths } from "../coordination/paths.js";
import { GATEWAY_NAME } from "../version.js";

/** How long a terminal waits for the notice when the primary is slow to answer (it is printed anyway). */
const NOTICE_WAIT_MS = 1500;

/**
 * What a person who ran the binary in a terminal is told on stderr: it is an MCP server waiting on stdin,
 * how a client reaches it (its command over stdio, or the HTTP endpoint's URL when one is on), and where
 * help is. A client that speaks is still served.
 */
export function ttyNotice(httpUrl?: string): string {
  const reach = httpUrl
    ? `MCP clients launch "${GATEWAY_NAME}" as a stdio server, or connect to ${httpUrl} with the bearer token in the state dir (see \`${GATEWAY_NAME} install --help\`).`
    : `MCP clients launch "${GATEWAY_NAME}" as a stdio server: \`${GATEWAY_NAME} install\` adds it to Claude Desktop, Claude Code or Cursor.`;
  return (
    `${GATEWAY_NAME}: this is an MCP server, waiting for an MCP client to speak JSON-RPC on stdin (Ctrl-D ends it).\n` +
    `  ${reach}\n` +
    `  \`${GATEWAY_NAME} --help\` lists the commands; \`${GATEWAY_NAME} status\` shows the running gateway.\n`
  );
}

/** The running primary's HTTP endpoint, as its gateway.json records it (undefined when off or unknown). */
export function recordedHttpUrl(paths: StatePaths): string | undefined {
  const read = readInstance(paths.instanceFile);
  if (read.kind !== "ok") return undefined;
  const url = read.info.http_url;
  return typeof url === "string" && url ? url : undefined;
}

/**
 * When stdin is a terminal, prints the notice once: after the first attempt to reach the primary (so the
 * URL it records can be named) or after a short wait, whichever comes first. Returns the trigger to call
 * when that attempt settles; a no-op when stdin is not a terminal. Asks isatty(0), not process.stdin, which
 * would open a handle on descriptor 0 beside the bridge's own reader (transport/clientInput.ts).
 */
export function noticeOnTerminal(paths: StatePaths, stdin: { isTTY?: boolean } = { isTTY: isatty(0) }): () => void {
  if (stdin.isTTY !== true) return () => {};
  let told = false;
  const tell = () => {
    if (told) return;
    told = true;
    clearTimeout(timer);
    process.stderr.write(ttyNotice(recordedHttpUrl(paths)));
  };
  const timer = setTimeout(tell, NOTICE_WAIT_MS);
  timer.unref();
  return tell;
}
