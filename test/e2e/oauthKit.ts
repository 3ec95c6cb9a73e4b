// For the OAuth end-to-end suite: the fixture servers, a config naming them, and a `$BROWSER` that is a
// script following the authorization server's redirect back to the gateway's loopback listener.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAuthServer, type AuthServer, type AuthServerOptions } from "../fixtures/oauth/authServer.js";
import { startProtectedServer, type ProtectedServer } from "../fixtures/oauth/protectedServer.js";

/** A browser stand-in: opens the URL (following redirects) and records that it did. */
export interface FakeBrowser {
  /** The executable to put in $BROWSER. */
  command: string;
  /** URLs it was asked to open, in order. */
  opened(): string[];
}

/** Writes the browser script: an absolute node shebang, as the gateway's PATH holds no node. */
export function fakeBrowser(): FakeBrowser {
  const dir = mkdtempSync(join(tmpdir(), "cmg-browser-"));
  const log = join(dir, "opened.log");
  const command = join(dir, "browser");
  writeFileSync(
    command,
    `#!${process.execPath}
const { appendFileSync } = require("node:fs");
const url = process.argv[2];
appendFileSync(${JSON.stringify(log)}, url + "\\n");
fetch(url, { redirect: "follow" }).then((r) => r.text()).catch((e) => { console.error(String(e)); process.exitCode = 1; });
`,
  );
  chmodSync(command, 0o755);
  return {
    command,
    opened: () => {
      try {
        return readFileSync(log, "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}

/** The fixture pair: an authorization server and the MCP server it protects. */
export interface OAuthFixtures {
  as: AuthServer;
  mcp: ProtectedServer;
  close(): Promise<void>;
}

/** Starts both fixtures on 127.0.0.1. */
export async function startOAuthFixtures(opts: AuthServerOptions = {}): Promise<OAuthFixtures> {
  const as = await startAuthServer(opts);
  const mcp = await startProtectedServer(as);
  return {
    as,
    mcp,
    close: async () => {
      await mcp.close();
      await as.close();
    },
  };
}

/** Writes `<home>/mcp/config.json` with the given servers. */
export function writeConfig(home: string, servers: Record<string, unknown>): void {
  const dir = join(home, "mcp");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ mcpServers: servers }, null, 2));
}
