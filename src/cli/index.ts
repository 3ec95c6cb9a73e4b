import { cac } from "cac";
import type { SessionRequest } from "../coordination/handshake.js";
import { statePaths } from "../coordination/paths.js";
import { parseNameLimit } from "../profiles/nameLimit.js";
import { GatewayError } from "../errors.js";
import { configureLogging, LOG_LEVELS, parseLogLevel } from "../log.js";
import { GATEWAY_NAME, VERSION } from "../version.js";
import { EXIT } from "./exitCodes.js";
import { exitQuietlyOnEpipe, reportError } from "./report.js";
import type { InstallOptions } from "./install.js";
import { serveBridge, servePrimary, serveStandalone, serveWatchdog } from "./serve.js";
import type { AddOptions } from "./servers.js";
import type { ToolsOptions } from "./tools.js";
import { statusCommand, stopCommand } from "./status.js";

// Commands beyond the bridge and status load their modules on demand: what every client launches (the
// bridge) must not evaluate zod, the config schema or the install logic.
const lazy = {
  auth: () => import("./auth.js"),
  install: () => import("./install.js"),
  restartExec: () => import("./restartExec.js"),
  serveHttp: () => import("./serveHttp.js"),
  servers: () => import("./servers.js"),
  tools: () => import("./tools.js"),
};

interface GlobalOptions {
  config?: string;
  logLevel?: string;
  json?: boolean;
}

const EXIT_HELP = `Exit codes:
  0  success (status: running)
  1  failure (test: the tool returned an error)
  2  usage error
  3  status/stop: no gateway running
  4  status: lock held but the primary does not answer (restart: no answer to the handover, and it still runs)
  5  the state dir cannot be used

Environment:
  CLAUDE_MPM_HOME        state lives in $CLAUDE_MPM_HOME/mcp (default ~/.claude-mpm/mcp)
  CLAUDE_MPM_LOG_LEVEL   ${LOG_LEVELS.join("|")} (default warn; the primary logs info to its log file)
  CLAUDE_MPM_GATEWAY_TOKEN  serve --http: accepted bearer tokens, comma-separated`;

/** Parses argv (without node and script) and runs the command; resolves to the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  exitQuietlyOnEpipe();
  const cli = cac(GATEWAY_NAME);
  let action: Promise<number> | undefined;
  const set = (p: Promise<number>) => {
    action = p;
  };
  const paths = (o: GlobalOptions) => statePaths(process.env, o.config);

  cli.option("--config <path>", "Downstream servers config (default $CLAUDE_MPM_HOME/mcp/config.json)");
  cli.option("--log-level <level>", `Log level on stderr: ${LOG_LEVELS.join("|")}`);

  cli
    .command("[...args]", "Run as an MCP stdio server (what clients launch); starts the shared gateway if none runs")
    .option("--standalone", "One self-contained gateway on this stdio, no coordination")
    .option("--status", "Same as the status command")
    .option("--json", "With --status: machine-readable output")
    .option("--primary", "Internal: run the shared primary (started by the first client)")
    .option("--watchdog", "Internal: a primary's watchdog (ends its downstream servers if it dies)")
    .option("--handover", "Internal: with --primary, take over from the primary that started this one")
    .option("--profile <name>", "Serve this client the named profile of config.json (tools, prompts, resources it sees)")
    .option("--max-name-length <n>", "Keep the tool names this client sees within n characters (16-64), e.g. for Cursor")
    .action((args: string[], o: GlobalOptions & { standalone?: boolean; status?: boolean; primary?: boolean; watchdog?: boolean; handover?: boolean; profile?: unknown; maxNameLength?: unknown }) => {
      if (args.length) throw new GatewayError("USAGE", `unknown command "${args[0]}"; see --help`);
      const session: SessionRequest = {
        ...(o.profile !== undefined ? { profile: String(o.profile) } : {}),
        ...(o.maxNameLength !== undefined ? { maxNameLength: parseNameLimit(o.maxNameLength) } : {}),
      };
      action = o.watchdog
        ? serveWatchdog()
        : o.status
          ? statusCommand(paths(o), Boolean(o.json))
          : o.primary
            ? servePrimary(paths(o), undefined, Boolean(o.handover))
            : o.standalone
              ? serveStandalone(paths(o), session)
              : serveBridge(paths(o), session);
    });

  cli
    .command("status", "Show whether the gateway runs: pid, uptime, sessions, tools, downstream health")
    .option("--json", "Machine-readable output")
    .action((o: GlobalOptions) => set(statusCommand(paths(o), Boolean(o.json))));
  cli
    .command("tools", "List every tool the gateway serves")
    .option("--json", "Machine-readable output")
    .option("--verbose", "Include input schemas")
    .option("--tokens", "Estimated tokens each tool costs in a model's context, and the total")
    .option("--profile <name>", "As a client with this profile (from config.json's profiles) sees them")
    .option("--max-name-length <n>", "As a client with this tool name limit sees them (16-64)")
    .action((o: GlobalOptions & ToolsOptions) => set(lazy.tools().then((m) => m.toolsCommand(paths(o), o))));
  cli
    .command("test <tool> [json-args]", "Call one tool once and print its result")
    .option("--json", "Print the whole MCP result as JSON")
    .example(`${GATEWAY_NAME} test calculator '{"operation":"multiply","a":6,"b":7}'`)
    .action((tool: string, raw: string | undefined, o: GlobalOptions) => set(lazy.tools().then((m) => m.testCommand(paths(o), tool, raw, o))));
  cli
    .command("serve", "Serve MCP over Streamable HTTP only: no lock, no bridge (a team server; one of many replicas)")
    .option("--http <[host:]port>", "Where to listen (default host 127.0.0.1; beyond loopback a token is required)")
    .option("--token-file <path>", "Accepted bearer tokens, one a line (also CLAUDE_MPM_GATEWAY_TOKEN, comma-separated)")
    .example(`CLAUDE_MPM_GATEWAY_TOKEN=$(openssl rand -hex 32) ${GATEWAY_NAME} serve --http 0.0.0.0:8080 --config team.json`)
    .action((o: GlobalOptions & { http?: string; tokenFile?: string }) => set(lazy.serveHttp().then((m) => m.serveHttpCommand(paths(o), o))));
  cli.command("stop", "Ask the running gateway to shut down").action((o: GlobalOptions) => set(stopCommand(paths(o))));
  cli
    .command("restart", "Replace the running gateway; connected clients keep their sessions")
    .option("--exec <path>", "Hand over to this claude-mpm-gateway binary (e.g. another release) instead of this one")
    .action((o: GlobalOptions & { exec?: unknown }) =>
      set(lazy.restartExec().then((m) => (o.exec === undefined ? m.restartPlainCommand(paths(o)) : m.restartExecCommand(paths(o), o.exec)))),
    );

  cli
    .command("add <name> [...command]", "Add a downstream MCP server: -- <command> [args...] (local) or --url <url> (remote)")
    .option("--env <KEY=VALUE>", "Environment variable for a local server (repeatable)")
    .option("--url <url>", "A remote server reached over Streamable HTTP")
    .option("--header <KEY=VALUE>", "HTTP header for a remote server (repeatable)")
    .option("--client-id <id>", "OAuth: a client registered by hand with the server's authorization server")
    .option("--client-secret <secret>", "OAuth: that client's secret, if it has one")
    .option("--scope <scope>", "OAuth: a scope to ask for (repeatable)")
    .option("--client-metadata-url <url>", "OAuth: the https URL of a Client ID Metadata Document for the gateway")
    .option("--force", "Replace a server of the same name")
    .example(`${GATEWAY_NAME} add memory --env MEMORY_FILE_PATH=/tmp/memory.json -- npx -y @modelcontextprotocol/server-memory`)
    .action((name: string, stray: string[], o: GlobalOptions & AddOptions) => set(lazy.servers().then((m) => m.addCommand(paths(o), String(name), stray, o))));
  cli.command("remove <name>", "Remove a downstream server").action((name: string, o: GlobalOptions) => set(lazy.servers().then((m) => m.removeCommand(paths(o), String(name)))));
  cli
    .command("list", "List the downstream servers in config.json")
    .option("--json", "Machine-readable output")
    .action((o: GlobalOptions) => set(lazy.servers().then((m) => m.listCommand(paths(o), o))));
  cli
    .command("import", "Copy a client's MCP servers into the gateway's config")
    .option("--from <client>", "claude-desktop|claude-code|cursor")
    .option("--dry-run", "Show what would be imported, change nothing")
    .action((o: GlobalOptions & { from?: unknown; dryRun?: boolean }) => set(lazy.servers().then((m) => m.importCommand(paths(o), o))));

  // cac matches a command by its first word: "auth" takes the action as its first argument.
  cli
    .command("auth <action> [server]", "OAuth sign-in for remote servers: auth login <server> | auth status [--json] | auth logout <server>")
    .option("--json", "With status: machine-readable output")
    .example(`${GATEWAY_NAME} auth login linear`)
    .action((what: string, server: string | undefined, o: GlobalOptions) => {
      const needServer = () => {
        if (!server) throw new GatewayError("USAGE", `auth ${what} needs a server name: ${GATEWAY_NAME} auth ${what} <server>`);
        return String(server);
      };
      if (what === "login") set(lazy.auth().then((m) => m.loginCommand(paths(o), needServer())));
      else if (what === "logout") set(lazy.auth().then((m) => m.logoutCommand(paths(o), needServer())));
      else if (what === "status") set(lazy.auth().then((m) => m.authStatusCommand(paths(o), Boolean(o.json))));
      else throw new GatewayError("USAGE", `unknown auth action "${what}": use login, status or logout`);
    });

  for (const [mode, what] of [
    ["install", "Add the gateway to MCP clients' configs (default: every client found here)"],
    ["uninstall", "Remove the gateway from MCP clients' configs"],
  ] as const) {
    cli
      .command(mode, what)
      .option("--client <client>", "claude-desktop|claude-code|cursor|all (comma-separated or repeated)")
      .option("--name <name>", `The server's name in the client's config (default ${GATEWAY_NAME})`)
      .option("--dry-run", "Show the change, write nothing")
      .option("--transport <transport>", "stdio (default: the client launches the gateway) or http (claude-code, cursor: the client connects to its HTTP endpoint by URL with the token)")
      .option("--profile <name>", "install: serve these clients this profile of config.json")
      .action((o: GlobalOptions & InstallOptions) => set(lazy.install().then((m) => m.installCommand(mode, o, m.installDeps(paths(o))))));
  }

  cli.help((sections) => {
    sections.push({ body: EXIT_HELP });
  });
  cli.option("-v, --version", "Print the version");

  try {
    const parsed = cli.parse(["", "", ...argv], { run: false });
    if (parsed.options.help) return EXIT.OK;
    if (parsed.options.version) {
      process.stdout.write(`${VERSION}\n`);
      return EXIT.OK;
    }
    const level = parsed.options.logLevel ?? process.env.CLAUDE_MPM_LOG_LEVEL;
    if (level !== undefined) {
      const parsedLevel = parseLogLevel(String(level));
      if (!parsedLevel) throw new GatewayError("USAGE", `--log-level must be one of ${LOG_LEVELS.join(", ")}`);
      configureLogging({ level: parsedLevel });
    }
    await cli.runMatchedCommand();
    if (!action) throw new GatewayError("USAGE", "nothing to do; see --help");
    return await action;
  } catch (err) {
    return reportError(err);
  }
}
