import {
  CLIENT_CAPABILITIES_META_KEY,
  LOG_LEVEL_META_KEY,
  ProtocolErrorCode,
  type ClientCapabilities,
  type GetPromptResult,
  type LoggingLevel,
  type ReadResourceResult,
  type Server,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { ResultSchema } from "@modelcontextprotocol/core";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import type { CallOrigin } from "../tools/types.js";
import type { DownstreamManager, ListKind } from "./manager.js";
import { relayError, rpcError } from "./rpcError.js";
import { RESOURCE_NOT_FOUND } from "./sessionState.js";

const log = logger("session");

const notFound = (uri: string) => rpcError(RESOURCE_NOT_FOUND, `Resource not found: no downstream server serves ${uri}`, { uri });

/** The downstream server behind a listed item (none: not a downstream one). */
type ServerOf = (nameOrUri: string) => string | undefined;

/**
 * What a session's profile decides about its prompts and resources: src/profiles/sessionView.ts builds it in
 * the session layer and hands it down; without one, a session sees everything.
 */
export interface ListView {
  resources<T extends { uri: string }>(all: readonly T[], serverOf: ServerOf): T[];
  templates<T extends { uriTemplate: string }>(all: readonly T[], serverOf: ServerOf): T[];
  prompts<T extends { name: string }>(all: readonly T[], serverOf: ServerOf): T[];
  resolvePrompt(name: string, all: readonly { name: string }[], serverOf: ServerOf): string | undefined;
  allowsResource(uri: string, server: string | undefined): boolean;
}

const EVERYTHING: ListView = {
  resources: (all) => [...all],
  templates: (all) => [...all],
  prompts: (all) => [...all],
  resolvePrompt: (name, all) => (all.some((p) => p.name === name) ? name : undefined),
  allowsResource: () => true,
};

/** A request a client's server must answer for a downstream one (sampling, elicitation) may take this long. */
const CLIENT_REQUEST_TIMEOUT_MS = 10 * 60_000;

type Ctx = ServerContext;

let nextSessionId = 1;

/** One session's tie to the downstream servers. */
export interface SessionLink {
  readonly id: number;
  /** The origin of a request this session's handler is serving, for routing progress and server requests back. */
  origin(ctx: Ctx): CallOrigin;
  /** The origin of a legacy request the session's fast lane serves without the SDK's context (src/gateway/lane.ts). */
  laneOrigin(progressToken: string | number | undefined, sent?: (method: string) => void): CallOrigin;
  /** Stops forwarding to this session and drops its subscriptions and log level. */
  close(): void;
}

/** What a session's lane origins share: built once per session. */
interface LaneLink {
  readonly sessionId: number;
  readonly binding: string;
  notify: CallOrigin["notify"];
  request: CallOrigin["request"];
  clientCapabilities: CallOrigin["clientCapabilities"];
  logLevel(): LoggingLevel | undefined;
}

/**
 * The origin of a call the session's fast lane serves (a legacy session's, with no retry fields): the same
 * members linkSession's `origin` gives such a request, but a fixed-shape object whose methods sit on the
 * prototype (no literal with spreads, getter and closures per call: measured in bench/primaryInstr.ts). Not
 * for spreading (a spread copies own members only); only a modern origin is ever spread (RoundTrips.park).
 */
class LaneOrigin implements CallOrigin {
  readonly sessionId: number;
  readonly binding: string;
  readonly era = "legacy" as const;
  readonly fastLane = true;

  constructor(
    private readonly link: LaneLink,
    readonly progressToken: string | number | undefined,
    private readonly sent: ((method: string) => void) | undefined,
  ) {
    this.sessionId = link.sessionId;
    this.binding = link.binding;
  }

  notify(n: Parameters<CallOrigin["notify"]>[0]): Promise<void> {
    this.sent?.(n.method);
    return this.link.notify(n);
  }

  request(r: Parameters<CallOrigin["request"]>[0], signal: AbortSignal): ReturnType<CallOrigin["request"]> {
    return this.link.request(r, signal);
  }

  clientCapabilities(): ClientCapabilities | undefined {
    return this.link.clientCapabilities();
  }

  /** Read when a message comes: a legacy session's level may be set while its call runs (a replay does so). */
  get logLevel(): LoggingLevel | undefined {
    return this.link.logLevel();
  }
}

/**
 * Serves a session's resources, prompts, completions and logging from the downstream servers, and forwards
 * their notifications to it: list_changed to every session, resources/updated to subscribers only (a
 * server's log messages go with the calls that caused them: see DownstreamManager). `binding` names the
 * session across takeovers (the gateway's `requestState` is bound to it); "" binds to the installation
 * alone. `era` is the connection's pinned era: a modern session hears of changes only through the listen
 * streams it opened.
 */
export function linkSession(
  server: Server,
  manager: DownstreamManager | undefined,
  binding = "",
  era: "legacy" | "modern" = "legacy",
  view: ListView = EVERYTHING,
): SessionLink {
  const id = nextSessionId++;
  // The session's profile decides which prompts and resources it sees, as it does for tools.
  const uriServer = (uri: string) => manager?.catalog.resourceServer(uri);
  const promptServer = (name: string) => manager?.catalog.prompt(name)?.server;
  let level: LoggingLevel | undefined;
  const origin = (ctx: Ctx): CallOrigin =>
    build(
      ctx.mcpReq.envelope as Record<string, unknown> | undefined,
      ctx.mcpReq.requestState<string>(),
      ctx.mcpReq.inputResponses,
      ctx.mcpReq._meta?.progressToken,
      (n) => ctx.mcpReq.notify(n),
      (r, signal) => ctx.mcpReq.send(r, ResultSchema, { signal, timeout: CLIENT_REQUEST_TIMEOUT_MS }),
    );
  // The same origin for a legacy request with no envelope, requestState or inputResponses: what the SDK's
  // context would send through is the Server's own notification and request (the context adds only the
  // related request id, which a stdio-like channel does not use). Built per call as one small object of a
  // class, over what the session holds once.
  const lane: LaneLink = {
    sessionId: id,
    binding,
    notify: (n) => server.notification(n),
    request: (r, signal) => server.request(r, ResultSchema, { signal, timeout: CLIENT_REQUEST_TIMEOUT_MS }),
    clientCapabilities: () => server.getClientCapabilities(),
    logLevel: () => level,
  };
  const laneOrigin = (progressToken: string | number | undefined, sent?: (method: string) => void): CallOrigin => new LaneOrigin(lane, progressToken, sent);
  function build(
    envelope: Record<string, unknown> | undefined,
    requestState: string | undefined,
    inputResponses: Ctx["mcpReq"]["inputResponses"],
    progressToken: string | number | undefined,
    notify: CallOrigin["notify"],
    request: CallOrigin["request"],
  ): CallOrigin {
    // A modern client's request carries its capabilities itself (2026-07-28, basic/index, _meta); a legacy
    // client declared them once, at initialize.
    const modern = envelope !== undefined;
    const requestLevel = modern ? (envelope[LOG_LEVEL_META_KEY] as LoggingLevel | undefined) : undefined;
    return {
      sessionId: id,
      ...(progressToken !== undefined ? { progressToken } : {}),
      notify,
      request,
      clientCapabilities: () => (modern ? (envelope[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) : server.getClientCapabilities()),
      era: modern ? "modern" : "legacy",
      // Read when a message comes: a legacy session's level may be set while its call runs (a replay does so).
      get logLevel() {
        return modern ? requestLevel : level;
      },
      binding,
      ...(requestState !== undefined || inputResponses !== undefined ? { retry: { requestState, inputResponses } } : {}),
    };
  }

  // Lists wait (bounded) for servers still starting, as tools/list does.
  server.setRequestHandler("resources/list", async (_req, ctx) => {
    await manager?.ready(ctx.mcpReq.signal);
    return { resources: view.resources(manager?.resources() ?? [], uriServer) };
  });
  server.setRequestHandler("resources/templates/list", async (_req, ctx) => {
    await manager?.ready(ctx.mcpReq.signal);
    return { resourceTemplates: view.templates(manager?.resourceTemplates() ?? [], (t) => manager?.catalog.templateServer(t)) };
  });
  server.setRequestHandler("prompts/list", async (_req, ctx) => {
    await manager?.ready(ctx.mcpReq.signal);
    return { prompts: view.prompts(manager?.prompts() ?? [], promptServer) };
  });
  server.setRequestHandler("logging/setLevel", async (req) => {
    level = req.params.level;
    await manager?.logLevels.set(id, level);
    return {};
  });
  if (!manager) return { id, origin, laneOrigin, close: () => undefined };

  server.setRequestHandler("resources/read", async (req, ctx) => {
    // An unknown URI may be served by a server still starting: known only once it is up.
    const owner = manager.catalog.resourceServer(req.params.uri) ?? (await manager.ready(ctx.mcpReq.signal), manager.catalog.resourceServer(req.params.uri));
    if (owner === undefined || !view.allowsResource(req.params.uri, owner)) throw notFound(req.params.uri);
    const client = await manager.readyClientOf(owner, ctx.mcpReq.signal, id);
    const request = { method: "resources/read" as const, name: req.params.uri, params: req.params };
    return (manager.forwardRounds(owner, client, request, origin(ctx), ctx.mcpReq.signal) as Promise<ReadResourceResult>).catch(relayError);
  });
  server.setRequestHandler("resources/subscribe", async (req) => {
    const owner = uriServer(req.params.uri);
    if (owner !== undefined && !view.allowsResource(req.params.uri, owner)) throw notFound(req.params.uri);
    await manager.subscriptions.subscribe(id, req.params.uri);
    return {};
  });
  server.setRequestHandler("resources/unsubscribe", async (req) => {
    await manager.subscriptions.unsubscribe(id, req.params.uri);
    return {};
  });
  server.setRequestHandler("prompts/get", async (req, ctx) => {
    // The name this client sees (its profile's, within its name limit) → the exported one → the server's own.
    const exported = () => view.resolvePrompt(req.params.name, manager.prompts(), promptServer);
    const real = exported() ?? (await manager.ready(ctx.mcpReq.signal), exported());
    const target = real === undefined ? undefined : manager.catalog.prompt(real);
    if (!target) throw rpcError(ProtocolErrorCode.InvalidParams, `Unknown prompt "${req.params.name}"`);
    const client = await manager.readyClientOf(target.server, ctx.mcpReq.signal, id);
    const request = { method: "prompts/get" as const, name: req.params.name, params: { ...req.params, name: target.name } };
    return (manager.forwardRounds(target.server, client, request, origin(ctx), ctx.mcpReq.signal) as Promise<GetPromptResult>).catch(relayError);
  });
  server.setRequestHandler("completion/complete", (req, ctx) => {
    const ref = req.params.ref;
    const target =
      ref.type === "ref/prompt"
        ? ((real) => (real === undefined ? undefined : manager.catalog.prompt(real)))(view.resolvePrompt(ref.name, manager.prompts(), promptServer))
        : ((s) => (s === undefined || !view.allowsResource(ref.uri, s) ? undefined : { server: s, name: ref.uri }))(manager.catalog.templateServer(ref.uri));
    const client = target && manager.runningClient(target.server);
    if (!target || !client?.getServerCapabilities()?.completions) return { completion: { values: [] } };
    const params = ref.type === "ref/prompt" ? { ...req.params, ref: { ...ref, name: target.name } } : req.params;
    const o = origin(ctx);
    return manager.withFlight(target.server, o, () => client.complete(params, manager.forwardOptions(ctx.mcpReq.signal, o)).catch(relayError));
  });

  // A legacy session hears of changes once initialized. A modern one only through the subscriptions/listen
  // streams it opened: the SDK's entry routes these sends onto them and drops what no stream asked for.
  const initialized = () => era === "modern" || server.getClientCapabilities() !== undefined;
  const onListChanged = (kinds: ListKind[]) => {
    if (!initialized()) return;
    for (const kind of kinds) {
      const sent = kind === "tools" ? server.sendToolListChanged() : kind === "resources" ? server.sendResourceListChanged() : server.sendPromptListChanged();
      sent.catch((err) => log.debug(`list_changed: ${describeError(err)}`));
    }
  };
  const onUpdated = (uri: string, sessions: ReadonlySet<number>) => {
    if (era === "modern" || sessions.has(id)) server.sendResourceUpdated({ uri }).catch((err) => log.debug(`resources/updated: ${describeError(err)}`));
  };
  manager.on("listChanged", onListChanged);
  manager.on("resourceUpdated", onUpdated);
  return {
    id,
    origin,
    laneOrigin,
    close: () => {
      manager.off("listChanged", onListChanged);
      manager.off("resourceUpdated", onUpdated);
      void manager.detach(id);
    },
  };
}
