import type { StatePaths } from "../coordination/paths.js";
import { loadConfig } from "../downstream/config.js";
import { GatewayError } from "../errors.js";
import { endpointUrl } from "./address.js";
import { ensureHttpToken, httpTokenPath } from "./tokens.js";

/** What a client needs to reach the primary's HTTP endpoint. */
export interface LocalEndpoint {
  url: string;
  token: string;
}

/**
 * The URL and bearer token a client's config should name for this installation's HTTP endpoint. Needs a
 * fixed port in config.json (a client's config cannot follow a port the system picks anew at each start);
 * makes the token file if the primary has not yet (the primary then uses that same token).
 */
export function localHttpEndpoint(paths: StatePaths): LocalEndpoint {
  const port = loadConfig(paths.configFile).http?.port;
  const fix = `set a fixed port in ${paths.configFile}, e.g. "http": { "port": 8765 }, then run \`claude-mpm-gateway restart\``;
  if (port === undefined) throw new GatewayError("USAGE", `the HTTP endpoint is off: ${fix}`);
  if (port === 0) throw new GatewayError("USAGE", `the HTTP endpoint's port is 0 (a new one at each start): ${fix}`);
  return { url: endpointUrl("127.0.0.1", port), token: ensureHttpToken(httpTokenPath(paths)) };
}
