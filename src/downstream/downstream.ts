import type {
  AuthProvider,
  Client,
  LoggingMessageNotification,
  McpSubscription,
  Prompt,
  PriorDiscovery,
  Resource,
  ResourceTemplateType as ResourceTemplate,
  Result,
  ServerRequest,
  Tool,
} from "@modelcontextprotocol/client";
import type { DownstreamStatus } from "../coordination/status.js";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import { GATEWAY_NAME } from "../version.js";
import type { ServerConfig } from "./config.js";
import { adoptStdio, closedOnProbe, connect, type Connection, type StdioPipes } from "./connection.js";
import type { ClientState } from "./clientState.js";
import type { CallLane } from "./callLane.js";
import type { RecordedGroup } from "./serverRecord.js";
import type { EraCache } from "./eraCache.js";
import type { StdioProcess } from "./stdioProcess.js";

const log = logger("downstream");

/** Where a downstream server is in its lifecycle. */
/** `needs-sign-in`: a remote server refused us and no OAuth grant is left; it waits for `auth login`, not a timer. */
export type DownstreamState = "starting" | "running" | "backoff" | "crash-loop" | "needs-sign-in" | "stopped" | "disabled" | "per-session";

/** Every wait in a downstream's life, bounded. */
export interface Timing {
  /** First restart delay; doubles per consecutive failure up to `backoffMaxMs`. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** A server that ran this long before failing starts its backoff afresh. */
  stableMs: number;
  /** Consecutive failures before `crash-loop`. */
  maxFailures: number;
  /** In `crash-loop`, one more attempt after this long (a broken server may be fixed without a config edit). */
  crashLoopRetryMs: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Consecutive missed pings before the server is restarted. */
  pingFailures: number;
  startTimeoutMs: number;
  /**
   * How long a client's list or call waits for a server that is starting (a server's `startTimeoutMs` in
   * config.json overrides it); past it, lists answer without that server.
   */
  readyWaitMs: number;
  /** Each list request (tools, resources, …) to a server. */
  listTimeoutMs: number;
  stopGraceMs: number;
  /** A forwarded request (tools/call, prompts/get, resources/read) may run this long; its progress restarts the clock. */
  callTimeoutMs: number;
}

/** The timing of the product; tests pass shorter ones. */
export const DEFAULT_TIMING: Timing = {
  backoffBaseMs: 1000,
  backoffMaxMs: 30_000,
  stableMs: 60_000,
  maxFailures: 5,
  crashLoopRetryMs: 5 * 60_000,
  pingIntervalMs: 30_000,
  pingTimeoutMs: 10_000,
  pingFailures: 3,
  startTimeoutMs: 30_000,
  readyWaitMs: 5000,
  listTimeoutMs: 30_000,
  stopGraceMs: 3000,
  callTimeoutMs: 10 * 60_000,
};

/** What a downstream tells its owner. */
export interface DownstreamHooks {
  /** State or any of its lists changed. */
  changed(d: Downstream): void;
  log(d: Downstream, params: LoggingMessageNotification["params"]): void;
  resourceUpdated(d: Downstream, uri: string): void;
  /** A request of the server to a client (sampling, elicitation, roots); rejects when no client can take it. */
  request(d: Downstream, request: ServerRequest, signal: AbortSignal): Promise<Result>;
  /** Runs after each (re)connect, before the server counts as running: restores subscriptions, log level. */
  connected(d: Downstream, client: Client): Promise<void>;
  /** A remote server's OAuth provider, if it uses OAuth. */
  authProvider?(d: Downstream): AuthProvider | undefined;
  /** True when a failed start was the server asking for a sign-in we do not have. */
  needsSignIn?(d: Downstream): boolean;
  /** Every server's era as last found, shared by the manager's servers. */
  readonly eras: EraCache<PriorDiscovery>;
}

type ListKind = "tools" | "resources" | "templates" | "prompts";

/** A running local server as one primary hands it to the next (plain JSON; the pipes travel beside it). */
export interface HandedServer {
  name: string;
  config: ServerConfig;
  pid: number;
  state: ClientState;
  lists: { tools: Tool[]; resources: Resource[]; templates: ResourceTemplate[]; prompts: Prompt[] };
  restarts: number;
  /** Bytes of a partial line read from its stdout, base64. */
  leftover: string;
}

/** A handed-over server with its pipes and recorded group, as the next primary adopts it. */
export interface Adoptable {
  handed: HandedServer;
  pipes: StdioPipes;
  group: RecordedGroup;
}

/** A promise and the function that resolves it. */
function signalOnce(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((r) => (fire = r));
  return { promise, fire };
}
const MAX_PAGES = 100;
/** Attempts to reopen a modern server's listen stream before giving up on it (with backoff: minutes). */
const MAX_LISTEN_ATTEMPTS = 10;

/** One downstream MCP server: its connection, restart policy, health checks and cached lists. */
export class Downstream {
  state: DownstreamState = "stopped";
  tools: Tool[] = [];
  resources: Resource[] = [];
  templates: ResourceTemplate[] = [];
  prompts: Prompt[] = [];
  private conn: Connection | undefined;
  /** Bumped by every transition: callbacks of an older attempt see a different epoch and do nothing. */
  private epoch = 0;
  private failures = 0;
  private restarts = 0;
  private lastError: string | null = null;
  private runningSince = 0;
  private timer: NodeJS.Timeout | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private readonly refreshing = new Map<ListKind, Promise<void>>();
  /** The attempt in progress, awaited by stop() so no server is left starting behind a stopped gateway. */
  private launching: Promise<void> | undefined;
  /** The teardown of a failed attempt (its process group may take the grace period to die): stop() waits for it. */
  private closing: Promise<void> | undefined;
  private abortStart = new AbortController();
  private pinging = false;
  private readonly stale = new Set<ListKind>();
  /** When the attempt in progress began, for the bound of a client's wait. */
  private startingSince = 0;
  /** Resolved (and replaced) at every state change: what a waiting client's list or call awaits. */
  private stateChanged = signalOnce();

  constructor(
    readonly name: string,
    readonly config: ServerConfig,
    private readonly hooks: DownstreamHooks,
    private readonly timing: Timing = DEFAULT_TIMING,
    /** The client session this instance of a `"scope": "session"` server belongs to. */
    readonly session?: number,
  ) {}

  /**
   * True for the shared entry of a `"scope": "session"` server: it starts once to learn the server's lists
   * (what every session is shown), then stops; each session's calls go to an instance of its own.
   */
  get listsOnly(): boolean {
    return this.config.type === "stdio" && this.config.scope === "session" && this.session === undefined;
  }

  /** The client of the running server, or undefined when it is not running (or its connection just closed). */
  get client(): Client | undefined {
    const client = this.state === "running" ? this.conn?.client : undefined;
    return client?.transport ? client : undefined;
  }

  /** The fast lane past `client` (callLane.ts), while `client` is this server's current one and has one. */
  laneFor(client: Client): CallLane | undefined {
    return this.conn?.client === client ? this.conn.lane : undefined;
  }

  /**
   * Starts the lifecycle (a disabled server only reports itself). `started`: its process, started already for
   * this very config (prestart.ts): the first attempt opens its session over it instead of starting another.
   */
  start(started?: StdioProcess): void {
    if (this.config.disabled) return this.setState("disabled");
    this.launching = this.launch(started);
  }

  /** Stops the server and its process tree, bounded; no restart follows. */
  async stop(): Promise<void> {
    this.epoch++;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    this.abortStart.abort();
    const conn = this.conn;
    this.conn = undefined;
    this.clearLists();
    if (this.state !== "disabled") this.setState("stopped");
    await Promise.all([conn?.close(), this.launching, this.closing]);
  }

  /** What `status` shows. */
  status(): DownstreamStatus {
    return {
      name: this.name,
      state: this.state,
      pid: this.state === "running" || this.state === "starting" ? (this.conn?.pid ?? null) : null,
      tools: this.tools.length,
      restarts: this.restarts,
      last_error: this.lastError,
    };
  }

  private setState(state: DownstreamState): void {
    this.state = state;
    if (state === "starting") this.startingSince = Date.now();
    this.stateChanged.fire();
    this.stateChanged = signalOnce();
    this.hooks.changed(this);
  }

  /** How long a start may take before it fails: what a session's first use of its own instance waits. */
  get startBoundMs(): number {
    return Math.max(this.timing.startTimeoutMs, this.readyWaitMs);
  }

  /** How long clients wait for this server to start: its own `startTimeoutMs`, else the gateway's default. */
  get readyWaitMs(): number {
    return (this.config.type === "stdio" ? this.config.startTimeoutMs : undefined) ?? this.timing.readyWaitMs;
  }

  /**
   * True while a client should wait for this server: it is starting, and not after a crash loop (a server
   * known to be failing is never waited for; a server in backoff is down, not starting).
   */
  get worthWaiting(): boolean {
    return this.state === "starting" && this.failures < this.timing.maxFailures;
  }

  /**
   * Resolves once this server is no longer starting (running, failed, stopped), or its wait bound — counted
   * from when this start began, so late requests do not wait the whole bound again — has passed, or `signal`
   * aborts. Never rejects.
   */
  async whenSettled(signal?: AbortSignal, boundMs = this.readyWaitMs): Promise<void> {
    while (this.worthWaiting && !signal?.aborted) {
      const left = this.startingSince + boundMs - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      await Promise.race([
        this.stateChanged.promise,
        new Promise<void>((r) => (timer = setTimeout(r, left))),
        new Promise<void>((r) => signal?.addEventListener("abort", (onAbort = () => r()), { once: true })),
      ]);
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  private clearLists(): void {
    this.tools = [];
    this.resources = [];
    this.templates = [];
    this.prompts = [];
  }

  private async launch(started?: StdioProcess): Promise<void> {
    const epoch = ++this.epoch;
    this.setState("starting");
    // Only a legacy verdict is remembered: a modern server's probe is the server/discover its client needs
    // anyway, while a stale modern verdict would leave a server with no tools and nothing to say why.
    const prior = this.hooks.eras.get(this.name, this.config);
    try {
      const conn = await connect(this.name, this.config, {
        ...(prior ? { prior } : {}),
        ...(started ? { started } : {}),
        // A server that may keep clients waiting longer than the default start bound is given that long.
        startTimeoutMs: this.startBoundMs,
        stopGraceMs: this.timing.stopGraceMs,
        setup: (client) => this.setup(client),
        signal: this.abortStart.signal,
        ...(this.config.type === "http" && this.hooks.authProvider ? { authProvider: this.hooks.authProvider(this) } : {}),
      });
      if (epoch !== this.epoch) return void conn.close();
      this.conn = conn;
      if (conn.era === "legacy") this.hooks.eras.set(this.name, this.config, { kind: "legacy" });
      else this.hooks.eras.forget(this.name, this.config);
      void conn.ended.then((why) => this.fail(epoch, why));
      await Promise.all((["tools", "resources", "templates", "prompts"] as const).map((k) => this.fetch(conn.client, k)));
      if (conn.era === "modern") await this.listen(conn.client, epoch);
      await this.hooks.connected(this, conn.client);
      if (epoch !== this.epoch) return;
      if (this.listsOnly) {
        // The lists are known: this shared process is not what sessions call, so it goes (no restart follows).
        this.epoch++;
        this.conn = undefined;
        await conn.close();
        log.info(`${this.name}: ${this.tools.length} tools; one instance per session, started on its first use`);
        return this.setState("per-session");
      }
      this.runningSince = Date.now();
      log.info(`${this.name}: running (pid ${conn.pid ?? "remote"}, ${this.tools.length} tools, ${conn.era} era)`);
      this.pinger = setInterval(() => void this.ping(epoch), this.timing.pingIntervalMs);
      this.pinger.unref();
      this.setState("running");
    } catch (err) {
      if (epoch === this.epoch && this.hooks.needsSignIn?.(this)) return this.awaitSignIn(epoch);
      // A remembered era that failed to start may be why (the server was upgraded): probe again next time.
      if (prior) this.hooks.eras.forget(this.name, this.config);
      else if (closedOnProbe(err)) {
        log.info(`${this.name}: closed the connection on the era probe; it is started as a legacy server next`);
        this.hooks.eras.set(this.name, this.config, { kind: "legacy" });
      }
      this.fail(epoch, describeError(err));
    }
  }

  /** No retry timer: only a sign-in helps, and the manager restarts the server when one happens. */
  private awaitSignIn(epoch: number): void {
    if (epoch !== this.epoch) return;
    this.epoch++;
    this.clearLists();
    this.lastError = `needs a sign-in: run \`${GATEWAY_NAME} auth login ${this.name}\``;
    log.warn(`${this.name}: ${this.lastError}`);
    this.setState("needs-sign-in");
  }

  /**
   * For a handover: stops using the running server without stopping it, and returns it with its pipes;
   * undefined when it cannot be handed over (not running, remote, one session's, or a platform whose stdio
   * pipes Node cannot pass). This object does nothing more afterwards.
   */
  detach(): { handed: HandedServer; pipes: StdioPipes } | undefined {
    if (this.state !== "running" || this.session !== undefined || !this.conn?.detach) return undefined;
    const conn = this.conn;
    const out = conn.detach!();
    if (!out) return undefined;
    this.epoch++;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    this.conn = undefined;
    // No hooks: the sessions that could hear of it are moving to the next primary, which lists it on.
    this.state = "stopped";
    const lists = { tools: this.tools, resources: this.resources, templates: this.templates, prompts: this.prompts };
    const handed: HandedServer = { name: this.name, config: this.config, pid: out.pid, state: out.state, lists, restarts: this.restarts, leftover: out.leftover.toString("base64") };
    return { handed, pipes: out.pipes };
  }

  /** Takes over a server a previous primary ran (see detach): the same process, its lists and state kept. */
  adopt(a: Adoptable): void {
    this.launching = this.takeOver(a);
  }

  private async takeOver({ handed, pipes, group }: Adoptable): Promise<void> {
    const epoch = ++this.epoch;
    this.setState("starting");
    try {
      const conn = await adoptStdio(this.name, { pipes, pid: handed.pid, state: handed.state, leftover: Buffer.from(handed.leftover, "base64") }, group, {
        startTimeoutMs: this.startBoundMs,
        stopGraceMs: this.timing.stopGraceMs,
        setup: (client) => this.setup(client),
        signal: this.abortStart.signal,
      });
      if (epoch !== this.epoch) return void conn.close();
      this.conn = conn;
      void conn.ended.then((why) => this.fail(epoch, why));
      ({ tools: this.tools, resources: this.resources, templates: this.templates, prompts: this.prompts } = handed.lists);
      this.restarts = handed.restarts;
      // A modern server's list changes come on a listen stream of the client that opened it: open ours.
      if (conn.era === "modern") await this.listen(conn.client, epoch);
      await this.hooks.connected(this, conn.client);
      if (epoch !== this.epoch) return;
      this.runningSince = Date.now();
      log.info(`${this.name}: taken over (pid ${handed.pid}, ${this.tools.length} tools, ${conn.era} era)`);
      this.pinger = setInterval(() => void this.ping(epoch), this.timing.pingIntervalMs);
      this.pinger.unref();
      this.setState("running");
      // A change announced while it moved was heard by neither primary: the lists are fetched again.
      for (const k of ["tools", "resources", "templates", "prompts"] as const) void this.refresh(conn.client, k);
    } catch (err) {
      this.fail(epoch, describeError(err));
    }
  }

  /** Stops and starts the server afresh (after a sign-in or sign-out), backoff forgotten. */
  async restart(): Promise<void> {
    await this.stop();
    this.abortStart = new AbortController();
    this.failures = 0;
    this.start();
  }

  /**
   * A modern server sends list changes only on a `subscriptions/listen` stream (2026-07-28): one is opened
   * for what it offers; its notifications reach the same handlers as a legacy server's. When the stream ends
   * while the connection lives on (a remote server restarted), it is opened again with backoff and the lists
   * fetched afresh, since what changed meanwhile was never announced.
   */
  private async listen(client: Client, epoch: number, attempt = 0): Promise<void> {
    const caps = client.getServerCapabilities() ?? {};
    const filter = {
      ...(caps.tools?.listChanged ? { toolsListChanged: true } : {}),
      ...(caps.prompts?.listChanged ? { promptsListChanged: true } : {}),
      ...(caps.resources?.listChanged ? { resourcesListChanged: true } : {}),
    };
    if (!Object.keys(filter).length) return;
    let sub: McpSubscription;
    try {
      sub = await client.listen(filter, { timeout: this.timing.listTimeoutMs });
    } catch (err) {
      log.warn(`${this.name}: cannot listen for list changes: ${describeError(err)}`);
      return this.listenAgain(client, epoch, attempt + 1);
    }
    if (attempt > 0) {
      log.info(`${this.name}: listening for list changes again`);
      void Promise.all((["tools", "resources", "templates", "prompts"] as const).map((k) => this.refresh(client, k)));
    }
    const opened = Date.now();
    void sub.closed.then((how) => {
      if (how !== "remote" || epoch !== this.epoch) return;
      // A stream that lasted counts as a success: its loss starts the backoff afresh.
      this.listenAgain(client, epoch, Date.now() - opened >= this.timing.stableMs ? 1 : attempt + 1);
    });
  }

  /** The next attempt to listen, after the backoff of `attempt` (bounded: a server that keeps refusing is left unheard). */
  private listenAgain(client: Client, epoch: number, attempt: number): void {
    if (attempt > MAX_LISTEN_ATTEMPTS) {
      log.warn(`${this.name}: gave up listening for list changes after ${MAX_LISTEN_ATTEMPTS} attempts; its lists are fetched again when it restarts`);
      return;
    }
    const delay = Math.min(this.timing.backoffBaseMs * 2 ** (attempt - 1), this.timing.backoffMaxMs);
    setTimeout(() => {
      if (epoch === this.epoch && client === this.conn?.client) void this.listen(client, epoch, attempt);
    }, delay).unref();
  }

  private fail(epoch: number, why: string): void {
    if (epoch !== this.epoch) return;
    const next = ++this.epoch;
    const ranStably = this.state === "running" && Date.now() - this.runningSince >= this.timing.stableMs;
    clearInterval(this.pinger);
    const conn = this.conn;
    this.conn = undefined;
    // Reaps whatever the server left in its process group, even when it exited by itself.
    this.closing = conn?.close();
    this.clearLists();
    this.lastError = why;
    this.failures = ranStably ? 1 : this.failures + 1;
    const crashLoop = this.failures >= this.timing.maxFailures;
    const delay = crashLoop
      ? this.timing.crashLoopRetryMs
      : Math.min(this.timing.backoffBaseMs * 2 ** (this.failures - 1), this.timing.backoffMaxMs);
    log.warn(`${this.name}: ${why}; ${crashLoop ? "crash loop, " : ""}restarting in ${delay} ms (failure ${this.failures})`);
    // State first, then the timer: whoever watches the state sees the whole wait, never less.
    this.setState(crashLoop ? "crash-loop" : "backoff");
    this.timer = setTimeout(() => {
      if (next !== this.epoch) return;
      this.restarts++;
      this.launching = this.launch();
    }, delay);
    this.timer.unref();
  }

  /** One health check: up to `pingFailures` pings in a row, each bounded; all missed means restart. */
  private async ping(epoch: number): Promise<void> {
    const client = this.conn?.client;
    if (!client || this.pinging) return;
    this.pinging = true;
    let misses = 0;
    try {
      while (epoch === this.epoch && misses < this.timing.pingFailures) {
        try {
          // A modern server has no ping (2026-07-28 removed it): its discover is the cheapest request it answers.
          if (client.getProtocolEra() === "modern") await client.discover({ timeout: this.timing.pingTimeoutMs });
          else await client.ping({ timeout: this.timing.pingTimeoutMs });
          return;
        } catch (err) {
          misses++;
          log.warn(`${this.name}: ping failed (${misses}/${this.timing.pingFailures}): ${describeError(err)}`);
        }
      }
      if (misses >= this.timing.pingFailures) this.fail(epoch, `not answering pings (${misses} missed)`);
    } finally {
      this.pinging = false;
    }
  }

  private setup(client: Client): void {
    client.setNotificationHandler("notifications/tools/list_changed", () => this.refresh(client, "tools"));
    client.setNotificationHandler("notifications/prompts/list_changed", () => this.refresh(client, "prompts"));
    client.setNotificationHandler("notifications/resources/list_changed", async () => {
      await Promise.all([this.refresh(client, "resources"), this.refresh(client, "templates")]);
    });
    client.setNotificationHandler("notifications/resources/updated", (n) => this.hooks.resourceUpdated(this, n.params.uri));
    client.setNotificationHandler("notifications/message", (n) => this.hooks.log(this, n.params));
    for (const method of ["sampling/createMessage", "elicitation/create", "roots/list"] as const) {
      client.setRequestHandler(method, (req, ctx) => this.hooks.request(this, req as ServerRequest, ctx.mcpReq.signal) as never);
    }
  }

  /** Refetches one list after a list_changed; overlapping notifications coalesce into one more fetch. */
  private refresh(client: Client, kind: ListKind): Promise<void> {
    const running = this.refreshing.get(kind);
    if (running) {
      this.stale.add(kind);
      return running;
    }
    const job = (async () => {
      do {
        this.stale.delete(kind);
        await this.fetch(client, kind);
      } while (this.stale.has(kind));
      if (client === this.client) this.hooks.changed(this);
    })().finally(() => this.refreshing.delete(kind));
    this.refreshing.set(kind, job);
    return job;
  }

  /** Fetches every page of one list the server offers; a failed refetch keeps the previous list. */
  private async fetch(client: Client, kind: ListKind): Promise<void> {
    const caps = client.getServerCapabilities() ?? {};
    const offered = kind === "tools" ? caps.tools : kind === "prompts" ? caps.prompts : caps.resources;
    if (!offered) return;
    const opts = { timeout: this.timing.listTimeoutMs };
    try {
      const items: unknown[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const params = cursor ? { cursor } : {};
        const r =
          kind === "tools"
            ? await client.listTools(params, opts).then((x) => ({ items: x.tools, next: x.nextCursor }))
            : kind === "prompts"
              ? await client.listPrompts(params, opts).then((x) => ({ items: x.prompts, next: x.nextCursor }))
              : kind === "resources"
                ? await client.listResources(params, opts).then((x) => ({ items: x.resources, next: x.nextCursor }))
                : await client.listResourceTemplates(params, opts).then((x) => ({ items: x.resourceTemplates, next: x.nextCursor }));
        items.push(...r.items);
        cursor = r.next;
        if (!cursor) break;
      }
      if (client !== this.conn?.client) return;
      if (kind === "tools") this.tools = items as Tool[];
      else if (kind === "prompts") this.prompts = items as Prompt[];
      else if (kind === "resources") this.resources = items as Resource[];
      else this.templates = items as ResourceTemplate[];
    } catch (err) {
      log.warn(`${this.name}: listing ${kind} failed: ${describeError(err)}`);
    }
  }
}
