import { EventEmitter } from "node:events";
import {
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type Client,
  type LoggingMessageNotification,
  type Prompt,
  type PriorDiscovery,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type Result,
  type ServerRequest,
  type Tool,
} from "@modelcontextprotocol/client";
import { acceptsUrlElicitation, signInElicitation } from "../auth/elicit.js";
import type { OAuthManager, RemoteServer } from "../auth/manager.js";
import type { DownstreamStatus } from "../coordination/status.js";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import { GATEWAY_NAME } from "../version.js";
import type { ToolProvider } from "../tools/registry.js";
import { errorResult, unknownToolResult, type CallOrigin, type ToolContext } from "../tools/types.js";
import { Catalog, templateMatches } from "./catalog.js";
import { loadConfig, remoteEntry, sameServer, type GatewayConfig } from "./config.js";
import type { Profile } from "./profileConfig.js";
import { watchConfig, DEFAULT_WATCH, type WatchOptions } from "./configWatcher.js";
import { DEFAULT_TIMING, Downstream, type Adoptable, type HandedServer, type Timing } from "./downstream.js";
import type { StdioPipes } from "./connection.js";
import { SessionInstances } from "./sessionInstances.js";
import { EraCache } from "./eraCache.js";
import { forward } from "./forward.js";
import { RoundTrips } from "./roundTrip.js";
import { isRpcError, relayError, rpcError } from "./rpcError.js";
import { StateSigner, requestDigest } from "./stateSigner.js";
import { FORWARDED_RESULT } from "./callLane.js";
import { LogLevels, SEVERITY, Subscriptions } from "./sessionState.js";
import type { Prestarted } from "./prestart.js";

const log = logger("downstream");

/** Which aggregate list changed. */
export type ListKind = "tools" | "resources" | "prompts";

/** How the manager runs. */
export interface ManagerOptions {
  configPath: string;
  /** Names a downstream tool may never take (the built-ins). */
  reserved: string[];
  timing?: Timing;
  watch?: WatchOptions | false;
  /** Seals the `requestState` handed to clients; one keyed by the installation's key lets any primary resume. */
  signer?: StateSigner;
  /** Local servers' processes a new primary started before its runtime loaded: the first apply opens sessions over them. */
  prestarted?: Prestarted;
}

interface Flight {
  origin: CallOrigin | undefined;
}

/**
 * Every downstream server of the config, started once and shared by every session: a ToolProvider for the
 * registry, the router of resources, prompts, completions and the servers' own requests, and the source of
 * the notifications sessions forward (events "listChanged", "resourceUpdated"; log messages go with calls).
 */
export class DownstreamManager extends EventEmitter implements ToolProvider {
  private readonly servers = new Map<string, Downstream>();
  private readonly known = new Map<string, string[]>();
  private readonly warned = new Set<string>();
  private readonly flights = new Map<string, Flight[]>();
  /** Instances of `"scope": "session"` servers, one per session that used one. */
  private readonly instances = new SessionInstances((name, config, session) => new Downstream(name, config, this.hooks, this.timing, session));
  private readonly timing: Timing;
  private current: Catalog | undefined;
  private published: Record<ListKind, string> = { tools: "[]", resources: "[[],[]]", prompts: "[]" };
  private publishQueued = false;
  private profileSet: Readonly<Record<string, Profile>> = {};
  private publishedProfiles = "{}";
  private unwatch: (() => void) | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Resolves once the config has been applied at start (every configured server exists and is starting). */
  private readonly applied: Promise<void>;
  private markApplied!: () => void;
  /** Who subscribed to which resource URI; forwarded to the server that serves it. */
  readonly subscriptions: Subscriptions;
  /** Each session's log level; servers get the most verbose one asked for. */
  readonly logLevels: LogLevels;
  /** Multi-round-trip requests in flight through the gateway. */
  readonly rounds: RoundTrips;

  constructor(private readonly opts: ManagerOptions) {
    super();
    this.setMaxListeners(0); // one listener per session per event
    this.timing = opts.timing ?? DEFAULT_TIMING;
    this.subscriptions = new Subscriptions((uri) => this.clientFor(uri), this.timing.listTimeoutMs);
    this.logLevels = new LogLevels(() => this.runningClients(), this.timing.listTimeoutMs);
    this.applied = new Promise((r) => (this.markApplied = r));
    this.rounds = new RoundTrips(opts.signer ?? StateSigner.ephemeral());
    this.prestarted = opts.prestarted;
  }

  /** After the first apply (or instead of it): early processes it did not take are stopped. */
  private dropPrestarted(): void {
    const rest = this.prestarted;
    this.prestarted = undefined;
    if (rest?.size) this.discarding = rest.stopRest(this.timing.stopGraceMs);
  }

  /** Servers a previous primary handed over, by name: adopted instead of started while the config still names them. */
  private adoptable = new Map<string, Adoptable>();
  /** Set once this primary hands its servers over: no request goes to them any more. */
  private frozen = false;
  /** Processes started early (ManagerOptions.prestarted), until the first apply has taken what it starts. */
  private prestarted: Prestarted | undefined;
  /** Stopping the early processes no apply took: stop() and handOut() wait for it. */
  private discarding: Promise<void> = Promise.resolve();

  /**
   * Reads the config, starts its servers (without waiting for them) and watches the file for edits. Servers
   * `adopt` holds (a handover) are taken over where the config names them unchanged, and stopped otherwise.
   */
  start(adopt: Adoptable[] = []): void {
    for (const a of adopt) this.adoptable.set(a.handed.name, a);
    void this.reload().then(() => {
      // Handed over but no longer configured (or changed meanwhile): stopped like a removed server.
      const left = [...this.adoptable.values()];
      this.adoptable.clear();
      for (const a of left) {
        const d = new Downstream(a.handed.name, a.handed.config, this.hooks, this.timing);
        d.adopt(a);
        void d.stop();
      }
    });
    if (this.opts.watch !== false) this.unwatch = watchConfig(this.opts.configPath, () => void this.reload(), this.opts.watch ?? DEFAULT_WATCH);
  }

  /** Applies the config file: only added, removed and changed servers are touched; an invalid file changes nothing. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      try {
        if (this.stopped) return;
        let config: GatewayConfig;
        try {
          config = loadConfig(this.opts.configPath);
        } catch (err) {
          // Taken over with the file invalid: no last good config yet, so the servers handed over are it
          // (else every one of them would be stopped while `restart` says they kept running).
          if (this.adoptable.size > 0) {
            log.error(`config not applied, the servers handed over run as they were: ${describeError(err)}`);
            config = { mcpServers: Object.fromEntries([...this.adoptable].map(([name, a]) => [name, a.handed.config])), profiles: {} };
          } else {
            log.error(`config not applied, the last good one stays in effect: ${describeError(err)}`);
            return;
          }
        }
        await this.apply(config);
      } finally {
        this.dropPrestarted();
        this.markApplied();
      }
    });
    return this.reloading;
  }

  /**
   * Resolves once no configured server is starting, each waited for within its own bound (a few seconds by
   * default; `startTimeoutMs` in its config entry), so a list answered next holds every server that came up.
   * A server in backoff or crash loop is not waited for. Never rejects; `signal` (a cancelled request) ends
   * the wait early.
   */
  async ready(signal?: AbortSignal): Promise<void> {
    await this.applied;
    await Promise.all([...this.servers.values()].map((d) => d.whenSettled(signal)));
  }

  /** Waits (bounded) for one server while it starts: a request for it is answered once it is up or failed. */
  private async readyServer(server: string, signal?: AbortSignal): Promise<void> {
    await this.applied;
    await this.servers.get(server)?.whenSettled(signal);
  }

  /** The profiles of the config in effect: sessions apply them on every request, so an edit applies at once. */
  profiles(): Readonly<Record<string, Profile>> {
    return this.profileSet;
  }

  /** The config file this manager applies. */
  get configPath(): string {
    return this.opts.configPath;
  }

  /** Resolves once the config has been read at start (its profiles are known), whatever became of its servers. */
  configApplied(): Promise<void> {
    return this.applied;
  }

  private async apply(config: GatewayConfig): Promise<void> {
    this.profileSet = config.profiles;
    const wanted = config.mcpServers;
    const stopping: Array<Promise<void>> = [];
    for (const [name, d] of this.servers) {
      if (wanted[name] && sameServer(wanted[name], d.config)) continue;
      log.info(`${name}: ${wanted[name] ? "changed" : "removed"} in the config; stopping it`);
      this.servers.delete(name);
      this.known.delete(name);
      stopping.push(d.stop(), this.instances.endServer(name));
    }
    this.invalidate();
    await Promise.all(stopping);
    if (this.stopped) return;
    // Rebuilt in config order, so "listed first" in conflicts means first in the file.
    const previous = new Map(this.servers);
    this.servers.clear();
    for (const [name, cfg] of Object.entries(wanted)) {
      const kept = previous.get(name);
      if (kept) {
        this.servers.set(name, kept);
        continue;
      }
      const d = new Downstream(name, cfg, this.hooks, this.timing);
      this.servers.set(name, d);
      const handed = this.adoptable.get(name);
      if (handed && !cfg.disabled && sameServer(cfg, handed.handed.config)) {
        this.adoptable.delete(name);
        d.adopt(handed);
        continue;
      }
      log.info(`${name}: ${cfg.disabled ? "disabled" : "starting"} (${cfg.type === "stdio" ? cfg.command : cfg.url})`);
      d.start(this.prestarted?.take(name, cfg));
    }
    this.invalidate();
  }

  /** Forgets a closed session: its subscriptions and log level. */
  async detach(sessionId: number): Promise<void> {
    await Promise.all([this.subscriptions.detach(sessionId), this.logLevels.detach(sessionId), this.instances.endSession(sessionId)]);
  }

  /** Stops every server, bounded by each one's grace period; the manager serves nothing afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    // A list waiting for a config that will never be applied now (stopped before start) answers at once.
    this.markApplied();
    this.unwatch?.();
    // A reload in progress must not start servers after this: let it finish (it is bounded) first.
    await this.reloading;
    this.dropPrestarted();
    await this.discarding;
    this.rounds.stop();
    await Promise.all([...[...this.servers.values()].map((d) => d.stop()), this.instances.stopAll()]);
    this.servers.clear();
    this.invalidate();
  }

  /** Requests in flight to servers (tools/call, prompts/get, resources/read), over all sessions. */
  get inFlight(): number {
    let n = 0;
    for (const list of this.flights.values()) n += list.length;
    return n;
  }

  /**
   * For a handover: no request goes to a server from now on, and each running local server that can be is
   * detached (left running, see Downstream.detach) and returned with its pipes; the others are stopped (the
   * next primary starts them afresh). The manager serves nothing afterwards.
   */
  async handOut(): Promise<{ servers: Array<{ handed: HandedServer; pipes: StdioPipes }>; fresh: string[] }> {
    this.frozen = true;
    this.stopped = true;
    this.markApplied();
    this.unwatch?.();
    await this.reloading;
    this.dropPrestarted();
    await this.discarding;
    this.rounds.stop();
    const out: Array<{ handed: HandedServer; pipes: StdioPipes }> = [];
    const stopping: Array<Promise<void>> = [this.instances.stopAll()];
    const fresh: string[] = [];
    for (const d of this.servers.values()) {
      const detached = d.detach();
      if (detached) out.push(detached);
      else {
        if (d.state !== "disabled") fresh.push(d.name);
        stopping.push(d.stop());
      }
    }
    await Promise.all(stopping);
    return { servers: out, fresh };
  }

  /** OAuth for the remote servers (sign-in, tokens, refresh): set by the runtime, absent in unit tests. */
  oauth: OAuthManager | undefined;

  /** Plugs in the OAuth side: a sign-in or sign-out restarts the server; a grant lost while running too. */
  useOAuth(oauth: OAuthManager): void {
    this.oauth = oauth;
    const restart = (name: string, onlyRunning: boolean) => {
      const d = this.servers.get(name);
      if (!d || this.stopped || (onlyRunning && d.state !== "running")) return;
      log.info(`${name}: restarting for its new sign-in state`);
      void d.restart();
    };
    oauth.on("signedIn", (name: string) => restart(name, false));
    oauth.on("signedOut", (name: string) => restart(name, false));
    oauth.on("needsSignIn", (name: string) => restart(name, true));
  }

  /** A remote server of the config, as the OAuth side sees it. */
  remoteServer(name: string): RemoteServer | undefined {
    const cfg = this.servers.get(name)?.config;
    return cfg && remoteEntry(name, cfg);
  }

  /** Per-server health for `status`. */
  status(): DownstreamStatus[] {
    return [...[...this.servers.values()].map((d) => d.status()), ...this.instances.status()];
  }

  /** The live catalog, rebuilt lazily after any change. */
  get catalog(): Catalog {
    if (!this.current) {
      const sources = [...this.servers.values()].map((d) => ({ name: d.name, running: d.state === "running" || d.state === "per-session", tools: d.tools, resources: d.resources, templates: d.templates, prompts: d.prompts }));
      for (const s of sources) if (s.running) this.known.set(s.name, s.tools.map((t) => t.name));
      this.current = new Catalog(sources, this.opts.reserved, this.known, this.warned);
    }
    return this.current;
  }

  private invalidate(): void {
    this.current = undefined;
    if (this.publishQueued) return;
    this.publishQueued = true;
    // Coalesces the burst of changes of one event (state + four lists) into one notification per list.
    setImmediate(() => {
      this.publishQueued = false;
      const c = this.catalog;
      const now: Record<ListKind, string> = {
        tools: JSON.stringify(c.tools),
        resources: JSON.stringify([c.resources, c.templates]),
        prompts: JSON.stringify(c.prompts),
      };
      // A changed profile may change what any session lists, whatever the servers did.
      const profiles = JSON.stringify(this.profileSet);
      const changed = (Object.keys(now) as ListKind[]).filter((k) => now[k] !== this.published[k] || profiles !== this.publishedProfiles);
      this.published = now;
      this.publishedProfiles = profiles;
      if (changed.length) this.emit("listChanged", changed);
    });
  }

  private readonly hooks = {
    changed: () => this.invalidate(),
    log: (d: Downstream, params: LoggingMessageNotification["params"]) => this.routeLog(d, params),
    resourceUpdated: (_d: Downstream, uri: string) => this.emit("resourceUpdated", uri, this.subscriptions.sessionsOf(uri)),
    request: (d: Downstream, request: ServerRequest, signal: AbortSignal) => this.routeRequest(d, request, signal),
    connected: async (d: Downstream, client: Client) => {
      await Promise.all([this.logLevels.apply(client), this.subscriptions.restore(client, (uri) => serves(d, uri))]);
    },
    authProvider: (d: Downstream) => (usesOAuth(d) ? this.oauth?.authProvider(d.name) : undefined),
    needsSignIn: (d: Downstream) => usesOAuth(d) && (this.oauth?.needsSignIn(d.name) ?? false),
    eras: new EraCache<PriorDiscovery>(),
  };

  /**
   * The sessions with a call in flight to a server, each with its latest call's origin. A call made with no
   * client behind it (the `test` command) counts as a session of its own, with no origin.
   */
  private callers(d: Downstream): Map<number | undefined, CallOrigin | undefined> {
    const callers = new Map<number | undefined, CallOrigin | undefined>();
    for (const f of this.flights.get(d.name) ?? []) {
      // A session's own instance is called by that session alone.
      if (d.session === undefined || f.origin?.sessionId === d.session) callers.set(f.origin?.sessionId, f.origin);
    }
    return callers;
  }

  /**
   * A server's own request (sampling, elicitation, roots) goes to a session only when that session's call
   * is provably its cause: over stdio the request names no call, so that is when exactly one session has
   * calls in flight to that server. With none, or calls of several sessions at once, the server gets an
   * error: one client must never be shown, or answer, another's prompt.
   */
  private async routeRequest(d: Downstream, request: ServerRequest, signal: AbortSignal): Promise<Result> {
    const need = request.method === "sampling/createMessage" ? "sampling" : request.method === "elicitation/create" ? "elicitation" : "roots";
    const callers = this.callers(d);
    if (callers.size > 1) {
      throw rpcError(
        ProtocolErrorCode.InvalidRequest,
        `${request.method}: calls of ${callers.size} clients to "${d.name}" are in flight and the request does not say which one it belongs to; refused rather than guessed`,
      );
    }
    const [origin] = callers.values();
    if (origin?.clientCapabilities()?.[need]) return origin.request(request, signal);
    throw rpcError(
      ProtocolErrorCode.MethodNotFound,
      origin
        ? `${request.method}: the client calling "${d.name}" does not support ${need}`
        : `${request.method}: no client can answer for "${d.name}" (a server's requests go to the client whose call to it is in flight, and none is)`,
    );
  }

  /**
   * A server's log message goes, with its call, to the one session calling that server, if that session
   * asked for log messages at that severity; to no other session (its paths and queries are that client's
   * business). With calls of several sessions in flight, which one caused it cannot be told: like a
   * server's request, it is given to none. Delivered to none, it goes to the gateway's own log.
   */
  private routeLog(d: Downstream, params: LoggingMessageNotification["params"]): void {
    const message = { ...params, logger: params.logger ? `${d.name}/${params.logger}` : d.name };
    const callers = this.callers(d);
    const [origin] = callers.size === 1 ? callers.values() : [];
    const wanted = origin?.logLevel;
    const delivered = !!origin && !!wanted && SEVERITY.indexOf(message.level) >= SEVERITY.indexOf(wanted);
    if (delivered) origin.notify({ method: "notifications/message", params: message }).catch((err) => log.debug(`log message: ${describeError(err)}`));
    else log.debug(`[${message.logger}] ${message.level}: ${typeof message.data === "string" ? message.data : JSON.stringify(message.data)}`.slice(0, 2000));
  }

  /** Runs a forwarded request while recording its origin, so the server's own requests find their client. */
  async withFlight<T>(server: string, origin: CallOrigin | undefined, fn: () => Promise<T>): Promise<T> {
    // Its servers now belong to the next primary: a request that reached this one late is refused, once.
    if (this.frozen) throw rpcError(ProtocolErrorCode.InternalError, "the gateway is handing over to its next primary; call again");
    const flight = this.board(server, origin);
    try {
      return await fn();
    } finally {
      this.land(server, flight);
    }
  }

  /** Records a request in flight to `server` (withFlight's bookkeeping). */
  private board(server: string, origin: CallOrigin | undefined): Flight {
    const flight: Flight = { origin };
    const list = this.flights.get(server);
    if (list) list.push(flight);
    else this.flights.set(server, [flight]);
    return flight;
  }

  /** The request `board` recorded is over. */
  private land(server: string, flight: Flight): void {
    const list = this.flights.get(server);
    if (!list) return;
    const i = list.indexOf(flight);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.flights.delete(server);
  }

  /** Options for a forwarded request: cancellation, bounded time, progress back to the client's token. */
  forwardOptions(signal: AbortSignal, origin: CallOrigin | undefined) {
    return {
      signal,
      timeout: this.timing.callTimeoutMs,
      resetTimeoutOnProgress: true,
      onprogress: (p: { progress: number; total?: number; message?: string }) => {
        // Read now, not at the start: a call that spans rounds reports to the client's current request.
        const token = origin?.progressToken;
        if (token !== undefined) void origin!.notify({ method: "notifications/progress", params: { ...p, progressToken: token } });
      },
    };
  }

  /** clientOf, once the server is no longer starting (bounded): a request for it never fails because it was. */
  async readyClientOf(server: string, signal?: AbortSignal, session?: number): Promise<Client> {
    await this.readyServer(server, signal);
    const shared = this.servers.get(server);
    if (shared?.state !== "per-session") return this.clientOf(server);
    // A `"scope": "session"` server: the session's own instance, started on first use.
    const d = this.instances.get(server, shared.config, session ?? 0);
    await d.whenSettled(signal, d.startBoundMs);
    if (!d.client) throw rpcError(ProtocolErrorCode.InvalidRequest, downMessage(server, d));
    return d.client;
  }

  /** The running server's client by name, or an error that says why there is none. */
  clientOf(server: string): Client {
    const client = this.runningClient(server);
    if (!client) throw rpcError(ProtocolErrorCode.InvalidRequest, downMessage(server, this.servers.get(server)));
    return client;
  }

  /** The running server's client by name. */
  runningClient(server: string): Client | undefined {
    return this.servers.get(server)?.client;
  }

  private clientFor(uri: string): { server: string; client: Client } | undefined {
    const server = this.catalog.resourceServer(uri);
    const client = server === undefined ? undefined : this.servers.get(server)?.client;
    return server !== undefined && client ? { server, client } : undefined;
  }

  private runningClients(): Client[] {
    return [...this.servers.values()].flatMap((d) => (d.client ? [d.client] : []));
  }

  /** Downstream tools, namespaced (ToolProvider). */
  list(): Tool[] {
    return this.catalog.tools;
  }

  /**
   * Forwards a request that may take several rounds (tools/call, prompts/get, resources/read) to a server, across
   * eras (see forward.ts). `name` is what the client asked for (tool or prompt name, resource URI): the
   * gateway's requestState is bound to it and to the arguments. `schema` checks the result's shape (default:
   * the method's own).
   */
  forwardRounds(
    server: string,
    client: Client,
    request: { method: "tools/call" | "prompts/get" | "resources/read"; name: string; params: Record<string, unknown> },
    origin: CallOrigin | undefined,
    signal: AbortSignal,
    schema?: typeof FORWARDED_RESULT,
  ): Promise<Result> {
    const { method, name, params } = request;
    const args = method === "resources/read" ? {} : params.arguments;
    // The digest binds a requestState to this request: only a retry or an input_required needs it, so it
    // is computed then (a SHA-256 of the arguments' stable JSON cost as much as the rest of the hop's own code).
    let digest: string | undefined;
    const call = { server, origin, signal, get req() { return (digest ??= requestDigest(method, name, args)); } };
    return forward(this.rounds, {
      call,
      client,
      flight: (o, fn) => this.withFlight(server, o, fn),
      send: (c, extra, o, s) => {
        const meta = { ...(params._meta as object | undefined), ...(extra._meta as object | undefined) };
        const out: { method: typeof method; params: Record<string, unknown> } = {
          method,
          params: { ...params, ...extra, ...(Object.keys(meta).length ? { _meta: meta } : {}) },
        };
        const opts = { ...this.forwardOptions(s, o), allowInputRequired: true };
        // A call the session's fast lane serves goes past the Client too, where the server has a lane.
        if (o?.fastLane && method === "tools/call" && schema === FORWARDED_RESULT) {
          const sent = this.servers.get(server)?.laneFor(c)?.request({ method, params: out.params }, opts);
          if (sent) return sent;
        }
        return schema ? c.request(out, schema, opts) : c.request(out, opts);
      },
    });
  }

  /**
   * True when `name` is the tool of a running shared server of the 2025 era: its answer to a legacy client's
   * call is the result or error it sends, never an input_required (the session's fast lane takes only such calls).
   */
  legacyTool(name: string): boolean {
    const target = this.catalog.tool(name);
    const client = target && this.servers.get(target.server)?.client;
    return !!client && client.getProtocolEra() !== "modern";
  }

  /** Forwards a call of a namespaced tool under its original name (ToolProvider); undefined when not ours. */
  call(name: string, args: Record<string, unknown>, ctx: ToolContext): Promise<CallToolResult> | undefined {
    const target = this.catalog.tool(name);
    const d = target && this.servers.get(target.server);
    if (!target || !d) return this.signInFirst(name, ctx);
    if (d.state === "per-session") return this.callInstance(d, target.name, name, args, ctx);
    const client = d.client;
    // Its tool is known (it ran before in this primary) and it is starting again: the call waits for it.
    if (!client && d.worthWaiting) return this.readyServer(d.name, ctx.signal).then(() => this.call(name, args, ctx) ?? unknownToolResult(name));
    if (!client) return this.downResult(d, ctx);
    // A plain request, not client.callTool: the result goes to the client unchanged and the client validates
    // it against the tool's schemas itself; validating it here too cost a third of the gateway's hop.
    return this.forwardCall(d, client, target.name, name, args, ctx);
  }

  /** A call of a `"scope": "session"` server's tool: to the calling session's own instance, started on first use. */
  private async callInstance(shared: Downstream, original: string, name: string, args: Record<string, unknown>, ctx: ToolContext): Promise<CallToolResult> {
    const d = this.instances.get(shared.name, shared.config, ctx.origin?.sessionId ?? 0);
    await d.whenSettled(ctx.signal, d.startBoundMs);
    const client = d.client;
    return client ? this.forwardCall(d, client, original, name, args, ctx) : this.downResult(d, ctx);
  }

  private forwardCall(d: Downstream, client: Client, original: string, name: string, args: Record<string, unknown>, ctx: ToolContext): Promise<CallToolResult> {
    const failed = (err: unknown): CallToolResult => {
      // The server's own protocol errors (unknown tool, bad arguments) reach the client as they are;
      // a crash or timeout mid-call becomes a tool error that says which server failed.
      if (err instanceof ProtocolError || isRpcError(err)) relayError(err);
      return errorResult(`server "${d.name}" failed during ${name}: ${describeError(err)}`);
    };
    const params = { name: original, arguments: args };
    const origin = ctx.origin;
    // A call the session's fast lane serves (a legacy client's, no retry) to a legacy server with a lane:
    // what forwardRounds does for it (forward.ts's legacy-to-legacy branch: one flight, one request through
    // the lane, no round-trip state), without its layers of async functions and per-call closures.
    if (origin?.fastLane && origin.retry === undefined && !this.frozen) {
      const lane = d.laneFor(client);
      if (lane) {
        const flight = this.board(d.name, origin);
        const sent = lane.request({ method: "tools/call", params }, { ...this.forwardOptions(ctx.signal, origin), allowInputRequired: true });
        if (sent) {
          return sent.then(
            (r) => (this.land(d.name, flight), r as CallToolResult),
            (err: unknown) => (this.land(d.name, flight), failed(err)),
          );
        }
        this.land(d.name, flight);
      }
    }
    return this.forwardRounds(d.name, client, { method: "tools/call", name, params }, origin, ctx.signal, FORWARDED_RESULT).then((r) => r as CallToolResult, failed);
  }

  /**
   * A tool of a server that never ran here because it needs a sign-in is unknown by name; a call to a name in
   * its namespace still learns what to do rather than "unknown tool".
   */
  private signInFirst(name: string, ctx: ToolContext): Promise<CallToolResult> | undefined {
    const d = [...this.servers.values()].find((s) => s.state === "needs-sign-in" && name.startsWith(prefixOf(s.name)));
    return d && this.downResult(d, ctx);
  }

  /** The answer to a call of a server that is not running: a client that takes URL elicitations is sent to sign in. */
  private async downResult(d: Downstream, ctx: ToolContext): Promise<CallToolResult> {
    const origin = ctx.origin;
    if (d.state === "needs-sign-in" && this.oauth && origin && acceptsUrlElicitation(origin.clientCapabilities())) {
      const elicitation = await signInElicitation(this.oauth, d.name, (n) => origin.notify(n));
      if (elicitation) throw elicitation;
    }
    return errorResult(downMessage(d.name, d));
  }

  /** Aggregated lists for sessions. */
  resources(): Resource[] {
    return this.catalog.resources;
  }
  resourceTemplates(): ResourceTemplate[] {
    return this.catalog.templates;
  }
  prompts(): Prompt[] {
    return this.catalog.prompts;
  }
}

/** A remote server without its own Authorization header (the user's choice, used as it is) goes through OAuth. */
function usesOAuth(d: Downstream): boolean {
  return d.config.type === "http" && !Object.keys(d.config.headers).some((h) => h.toLowerCase() === "authorization");
}

/** The namespace prefix of a server's tools. */
const prefixOf = (server: string) => `${server}__`;

function downMessage(server: string, d: Downstream | undefined): string {
  if (!d) return `server "${server}" is not configured`;
  if (d.state === "needs-sign-in") return `server "${server}" needs a sign-in: run \`${GATEWAY_NAME} auth login ${server}\`, then call again`;
  const why = d.status().last_error;
  return `server "${server}" is down (${d.state}${why ? `: ${why}` : ""}); its tools come back when it runs again`;
}

function serves(d: Downstream, uri: string): boolean {
  return d.resources.some((r) => r.uri === uri) || d.templates.some((t) => templateMatches(t.uriTemplate, uri));
}
