import type { StatePaths } from "../coordination/paths.js";
import { GatewayError } from "../errors.js";
import { isLoopback, parseListenAddress } from "../http/address.js";
import { readTokenFile, TOKEN_ENV, tokensFromEnv } from "../http/tokens.js";
import { configureLogging, logger } from "../log.js";
import { GATEWAY_NAME } from "../version.js";
import { EXIT } from "./exitCodes.js";
import { selfCommand } from "../coordination/spawnPrimary.js";

/** Options of `serve`. */
export interface ServeHttpOptions {
  http?: string;
  tokenFile?: string;
}

/** How long SIGTERM waits for requests in flight before closing what is left. */
const DRAIN_MS = 10_000;

/**
 * `serve --http [host:]port`: the same gateway over Streamable HTTP only, with no lock and no bridge, so a
 * team can run replicas behind a load balancer. Accepted bearer tokens come from CLAUDE_MPM_GATEWAY_TOKEN
 * (comma-separated) and/or --token-file; a listener beyond loopback without one is refused before anything
 * starts. SIGTERM/SIGINT drain the requests in flight, then exit 0.
 */
export async function serveHttpCommand(paths: StatePaths, o: ServeHttpOptions): Promise<number> {
  if (typeof o.http !== "string" || !o.http) throw new GatewayError("USAGE", "serve needs --http [host:]port (e.g. --http 8080 or --http 0.0.0.0:8080)");
  const address = parseListenAddress(o.http);
  const tokens = [...tokensFromEnv(process.env[TOKEN_ENV]), ...(o.tokenFile ? readTokenFile(String(o.tokenFile)) : [])];
  if (!isLoopback(address.host) && tokens.length === 0) {
    throw new GatewayError("USAGE", `refusing to listen on ${address.host} without a bearer token: set ${TOKEN_ENV} or --token-file, or listen on 127.0.0.1`);
  }
  configureLogging({ tag: "serve" });
  // A server's log goes to stderr (a container's log); info unless a level was asked for.
  if (!process.env.CLAUDE_MPM_LOG_LEVEL) configureLogging({ level: "info" });
  const log = logger("serve");
  if (tokens.length === 0) log.warn("no bearer token: any local user or process can use this endpoint");

  const { runHttpServer } = await import("../gateway/runtime.js");
  const server = await runHttpServer({ paths, address, tokens, watchdog: selfCommand() });
  process.stderr.write(`${GATEWAY_NAME}: serving MCP over Streamable HTTP at ${server.url}\n`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.once(s, () => resolve(s));
  });
  log.info(`received ${signal}: draining requests in flight (up to ${DRAIN_MS / 1000} s)`);
  await server.close(DRAIN_MS);
  log.info("stopped");
  return EXIT.OK;
}
