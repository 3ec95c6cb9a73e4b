// `auth login|status|logout`: OAuth sign-in for remote servers. Only the primary runs a flow (one per server
// however many terminals or clients ask); the terminal prints the URL and opens the browser.
import { join } from "node:path";
import { openBrowser } from "../auth/browser.js";
import { sendAuthRequest, type AuthEvent, type AuthRequest } from "../auth/control.js";
import { OAuthManager, type AuthStatus, type RemoteServer } from "../auth/manager.js";
import { connectToPrimary, coordinatesFor, tryConnect } from "../coordination/client.js";
import type { StatePaths } from "../coordination/paths.js";
import { loadConfig, remoteEntry, remoteServersOf } from "../downstream/config.js";
import { GatewayError } from "../errors.js";
import { EXIT } from "./exitCodes.js";

const out = (s: string) => process.stdout.write(s + "\n");
const err = (s: string) => process.stderr.write(s + "\n");

/** How long a terminal waits for the user to finish in the browser (the primary's own flow timeout, plus a margin). */
const LOGIN_WAIT_MS = 11 * 60_000;

function remote(paths: StatePaths, name: string): RemoteServer {
  // An own entry only: a plain object also answers to toString, constructor, __proto__ (then "a local server").
  const servers = loadConfig(paths.configFile).mcpServers;
  const s = Object.hasOwn(servers, name) ? servers[name] : undefined;
  if (!s) throw new GatewayError("USAGE", `no server "${name}" in ${paths.configFile}`);
  const r = remoteEntry(name, s);
  if (!r) throw new GatewayError("USAGE", `"${name}" is a local server: sign-in applies to remote servers (with a "url")`);
  return r;
}

async function ask(paths: StatePaths, req: AuthRequest, onEvent: (e: AuthEvent) => void, start: boolean, timeoutMs: number): Promise<boolean> {
  const c = coordinatesFor(paths);
  const conn = start ? await connectToPrimary(c, { kind: "control", spawn: true }) : await tryConnect(c, "control");
  if (!conn) return false;
  await sendAuthRequest(conn.socket, req, onEvent, timeoutMs);
  return true;
}

function failed(e: Extract<AuthEvent, { event: "error" }>): never {
  throw new GatewayError(e.code === "USAGE" ? "USAGE" : "OAUTH_FAILED", e.message);
}

/** `auth login <server>`: the primary runs the flow (started for it when none runs); we print and open the URL. */
export async function loginCommand(paths: StatePaths, name: string): Promise<number> {
  remote(paths, name);
  let result = "";
  // The primary holds the only flow for this server: started here when none runs, it serves the sign-in and
  // every client that comes meanwhile, and goes away by itself once idle.
  await ask(
    paths,
    { op: "auth-login", server: name },
    (e) => {
      if (e.event === "error") failed(e);
      if (e.event === "url" && e.joined) out(`A sign-in to "${name}" is already in progress (its browser tab is open); waiting for it. Its URL:\n\n  ${e.url}\n`);
      else if (e.event === "url") {
        out(`Sign in to "${name}" in your browser. If it does not open, open this URL:\n\n  ${e.url}\n`);
        void openBrowser(e.url).then((ok) => ok || err("(no browser could be started: open the URL above by hand)"));
      }
      if (e.event === "done") result = e.result;
    },
    true,
    LOGIN_WAIT_MS,
  );
  out(result === "not-needed" ? `"${name}" does not ask for a sign-in: nothing to do.` : `Signed in to "${name}". Every client of the gateway uses it from now on.`);
  return EXIT.OK;
}

/** `auth logout <server>`: revokes where supported and deletes the stored tokens. */
export async function logoutCommand(paths: StatePaths, name: string): Promise<number> {
  const s = remote(paths, name);
  let result = "";
  const asked = await ask(paths, { op: "auth-logout", server: name }, (e) => (e.event === "error" ? failed(e) : e.event === "done" ? (result = e.result) : undefined), false, 60_000);
  // No primary runs: nothing holds the tokens but the file, so this process can do it.
  if (!asked) result = await new OAuthManager(join(paths.stateDir, "oauth"), (n) => (n === name ? s : undefined)).logout(name);
  out(`Signed out of "${name}" (${result}).`);
  return EXIT.OK;
}

/** `auth status [--json]`: each remote server's sign-in state. */
export async function authStatusCommand(paths: StatePaths, json: boolean): Promise<number> {
  let servers: AuthStatus[] | undefined;
  await ask(paths, { op: "auth-status" }, (e) => (e.event === "error" ? failed(e) : e.event === "status" ? (servers = e.servers) : undefined), false, 10_000);
  if (!servers) {
    const manager = new OAuthManager(join(paths.stateDir, "oauth"), () => undefined);
    servers = remoteServersOf(paths.configFile).map((s) => manager.status(s));
  }
  if (json) {
    out(JSON.stringify(servers, null, 2));
    return EXIT.OK;
  }
  if (!servers.length) {
    out(`No remote servers in ${paths.configFile}.`);
    return EXIT.OK;
  }
  for (const s of servers) out(`${s.name}: ${describe(s)}`);
  return EXIT.OK;
}

function describe(s: AuthStatus): string {
  switch (s.state) {
    case "signed-in":
      return `signed in${s.expires ? `, access token expires ${s.expires}${s.refreshable ? " (refreshed automatically)" : " (no refresh token)"}` : ""}`;
    case "needs-sign-in":
      return `needs sign-in${s.reason ? ` (${s.reason})` : ""}: run \`claude-mpm-gateway auth login ${s.name}\``;
    case "signing-in":
      return "sign-in in progress";
    case "static-headers":
      return "uses a static Authorization header from the config";
    case "none":
      return "no sign-in (none asked for so far)";
  }
}
