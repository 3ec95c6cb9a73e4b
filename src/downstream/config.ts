import { readFileSync } from "node:fs";
import * as z from "zod";
import { GatewayError } from "../errors.js";
import { parseProfiles, type Profile } from "./profileConfig.js";
import type { OAuthSettings } from "../auth/provider.js";
import type { RemoteServer } from "../auth/manager.js";

/** A downstream server run as a child process speaking MCP on its stdio. */
export interface StdioServerConfig {
  type: "stdio";
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** How long clients' lists and calls wait for it while it starts (default: the gateway's, 5 s). */
  startTimeoutMs?: number;
  /** "session": one instance per client session, started on its first use and stopped when it ends. */
  scope?: "session";
  disabled: boolean;
}

/** A remote downstream server reached over Streamable HTTP. */
export interface HttpServerConfig {
  type: "http";
  url: string;
  headers: Record<string, string>;
  /** OAuth client settings (a client registered by hand, scopes, a client metadata document URL). */
  oauth?: OAuthSettings;
  disabled: boolean;
}

export type ServerConfig = StdioServerConfig | HttpServerConfig;

/** The primary's HTTP endpoint (`"http": { "port": N }`; 0 = the system picks a port). Off when absent. */
export interface HttpConfig {
  port: number;
}

/** The gateway's config.json, in Claude Desktop's `mcpServers` shape. */
export interface GatewayConfig {
  mcpServers: Record<string, ServerConfig>;
  http?: HttpConfig;
  /** Named views for clients (`--profile`); see profileConfig.ts. */
  profiles: Record<string, Profile>;
}


const stringMap = z.record(z.string(), z.string());
const stdioSchema = z
  .object({
    type: z.literal("stdio").optional(),
    command: z.string().min(1, "must be a non-empty string"),
    args: z.array(z.string()).optional(),
    env: stringMap.optional(),
    cwd: z.string().min(1).optional(),
    scope: z.enum(["shared", "session"], { error: 'must be "shared" (the default) or "session"' }).optional(),
    startTimeoutMs: z.number().int("must be a whole number of milliseconds").positive("must be positive").max(600_000, "must be at most 600000 (10 minutes)").optional(),
    disabled: z.boolean().optional(),
  })
  .passthrough();
const httpSchema = z
  .object({
    type: z.enum(["http", "streamable-http", "streamableHttp"]).optional(),
    url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    oauth: z
      .object({
        clientId: z.string().min(1).optional(),
        clientSecret: z.string().min(1).optional(),
        scopes: z.array(z.string().min(1)).optional(),
        // A client ID metadata document is only ever an https URL with a path (draft-ietf-oauth-client-id-metadata-document).
        clientMetadataUrl: z.url({ protocol: /^https$/, error: "must be an https URL" }).optional(),
      })
      .strict()
      .optional(),
    headers: stringMap.optional(),
    disabled: z.boolean().optional(),
  })
  .passthrough();
const fileSchema = z
  .object({
    mcpServers: z.record(z.string(), z.unknown()).optional(),
    http: z.object({ port: z.number().int().min(0).max(65535, "must be a port number (0-65535)") }).strict().optional(),
  })
  .passthrough();

function jsonPath(path: PropertyKey[]): string {
  return "$" + path.map((p) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(String(p)) ? `.${String(p)}` : `[${JSON.stringify(String(p))}]`)).join("");
}

function invalid(file: string, path: PropertyKey[], problem: string): GatewayError {
  return new GatewayError("CONFIG_INVALID", `${file}: ${jsonPath(path)}: ${problem}`);
}

/** Validates parsed JSON as a gateway config; errors name the file, the JSON path and the problem. */
export function parseConfig(value: unknown, file: string): GatewayConfig {
  const top = fileSchema.safeParse(value);
  if (!top.success) {
    const issue = top.error.issues[0];
    if (issue?.path[0] === "http") throw invalid(file, issue.path, `${issue.message}; write "http": { "port": 8080 } (0 = any free port)`);
    throw invalid(file, issue?.path ?? [], "must be an object with an \"mcpServers\" object");
  }
  const servers: Record<string, ServerConfig> = {};
  for (const [name, raw] of Object.entries(top.data.mcpServers ?? {})) {
    const at = ["mcpServers", name];
    // Any name a client accepts is kept (imports must not fail); the namespace makes it a valid tool prefix.
    if (!name.trim()) throw invalid(file, at, "a server name must not be empty");
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalid(file, at, "must be an object");
    const isHttp = "url" in raw;
    if (isHttp && "command" in raw) throw invalid(file, at, "has both \"command\" and \"url\": a server is either local (command) or remote (url)");
    if (!isHttp && !("command" in raw)) throw invalid(file, at, "needs a \"command\" (local server) or a \"url\" (remote server)");
    if (isHttp) {
      const r = httpSchema.safeParse(raw);
      if (!r.success) throw invalid(file, [...at, ...(r.error.issues[0]?.path ?? [])], r.error.issues[0]?.message ?? "invalid");
      servers[name] = { type: "http", url: r.data.url, headers: r.data.headers ?? {}, ...(r.data.oauth ? { oauth: r.data.oauth } : {}), disabled: r.data.disabled ?? false };
    } else {
      const r = stdioSchema.safeParse(raw);
      if (!r.success) throw invalid(file, [...at, ...(r.error.issues[0]?.path ?? [])], r.error.issues[0]?.message ?? "invalid");
      servers[name] = {
        type: "stdio",
        command: r.data.command,
        args: r.data.args ?? [],
        env: r.data.env ?? {},
        ...(r.data.cwd ? { cwd: r.data.cwd } : {}),
        ...(r.data.startTimeoutMs !== undefined ? { startTimeoutMs: r.data.startTimeoutMs } : {}),
        ...(r.data.scope === "session" ? { scope: "session" as const } : {}),
        disabled: r.data.disabled ?? false,
      };
    }
  }
  const profiles = parseProfiles((top.data as { profiles?: unknown }).profiles);
  if ("problem" in profiles) throw invalid(file, ["profiles", ...profiles.path], profiles.problem);
  return { mcpServers: servers, profiles: profiles.profiles, ...(top.data.http ? { http: { port: top.data.http.port } } : {}) };
}

/** Reads and validates config.json; a missing file means no downstream servers. */
export function loadConfig(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { mcpServers: {}, profiles: {} };
    throw new GatewayError("CONFIG_INVALID", `${file}: cannot be read (${(err as Error).message})`, { cause: err });
  }
  if (!text.trim()) return { mcpServers: {}, profiles: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new GatewayError("CONFIG_INVALID", `${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseConfig(value, file);
}

/** True when two server configs would run the same thing (a hot reload leaves such a server alone). */
export function sameServer(a: ServerConfig, b: ServerConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A remote entry as the OAuth side sees it (undefined for a local server). */
export function remoteEntry(name: string, s: ServerConfig): RemoteServer | undefined {
  return s.type === "http" ? { name, url: s.url, headers: s.headers, ...(s.oauth ? { oauth: s.oauth } : {}) } : undefined;
}

/** Every remote server of a config file, in file order. */
export function remoteServersOf(file: string): RemoteServer[] {
  return Object.entries(loadConfig(file).mcpServers).flatMap(([name, s]) => remoteEntry(name, s) ?? []);
}
