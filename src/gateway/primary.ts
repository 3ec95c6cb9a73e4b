import type { Server as NetServer, Socket } from "node:net";
import { GatewayError, describeError, isGatewayError } from "../errors.js";
import { logger } from "../log.js";
import { VERSION } from "../version.js";
import { listenEndpoint, removeSocketFile } from "../coordination/endpoint.js";
import { acceptHello, newToken, removeToken, writeToken, type Hello, type Welcome } from "../coordination/handshake.js";
import { createAdmission } from "../coordination/admission.js";
import { instanceRecord, removeInstance, writeInstance } from "../coordination/instanceFile.js";
import { startHeartbeat } from "../coordination/instanceProof.js";
import type { NextPrimary } from "./handoverLink.js";
import { claimPrimary, type PrimaryClaim } from "./primaryClaim.js";
import { PrimaryHandover } from "./primaryHandover.js";
import { SessionTable } from "./sessionTable.js";
import { answerControl, readControlRequest } from "./control.js";
import { takeOver } from "./takeOver.js";
import type { StatePaths } from "../coordination/paths.js";
import { ensureStateDir } from "../coordination/stateDir.js";
import type { PrimaryStatus } from "../coordination/status.js";
import type { ServerGuard } from "../downstream/guard.js";
import { LineTransport } from "../transport/lineTransport.js";
import { createSession, serveSession, type SessionOptions } from "./session.js";
import { FastLane } from "./lane.js";
import { sessionStatus } from "../profiles/sessionStatus.js";
import { SessionView } from "../profiles/sessionView.js";
import { createDownstream, createRegistry } from "./services.js";
import { startPrimaryHttp, type HttpService } from "./httpServe.js";
import { isAuthRequest, serveAuthRequest } from "../auth/control.js";
import { remoteServersOf } from "../downstream/config.js";

const log = logger("primary");

/** How long a new primary waits for its first session, whatever the linger. */
const STARTUP_GRACE_MS = 5000;

/** How the primary runs. */
export interface PrimaryOptions {
  paths: StatePaths;
  /** Exit this long after the last session ends (and after start, if none comes). */
  lingerMs: number;
  /** The gateway program, run as this primary's watchdog (`--watchdog`); none when undefined (the API in a script). */
  watchdog?: { command: string; args: string[] };
  /** Started by a primary handing over (`--handover`, with a channel to it): take over from it. */
  takeOver?: boolean;
  /** The lock and what goes with it, claimed before the runtime loaded (servePrimary); claimed here when absent. */
  claim?: PrimaryClaim;
  /**
   * The process ends at once when runPrimary resolves handed over (the CLI's `--primary`), as it must: an
   * orderly end would close the lock's socket the next primary holds too. Without it (the API in a script)
   * a handover is refused as unsupported, and `restart` stops and starts instead.
   */
  exitsAfterHandover?: boolean;
}

/** Why the primary stopped. */
export interface PrimaryOutcome {
  reason: string;
  fatal: boolean;
  /**
   * Handed over to a next primary, which holds the lock's socket too: the process must end without closing
   * it (an orderly exit closes every handle, and closing a bound socket unlinks its file).
   */
  handedOver?: boolean;
}

/**
 * Runs the one primary of a state dir: lock, instance file, endpoint, registry, sessions; resolves after a
 * clean shutdown (signal, `stop`, idle linger). Throws LOCK_HELD when another primary holds the lock.
 */
export async function runPrimary(opts: PrimaryOptions): Promise<PrimaryOutcome> {
  const { paths } = opts;
  ensureStateDir(paths);
  // The lock first (a loser of the race starts nothing), then the servers' guard and the servers themselves.
  const claim = opts.claim ?? (await claimPrimary(opts));
  const { coords, lock, old } = claim;

  // The same token across a handover: bridges connecting meanwhile prove the one on disk, whoever answers.
  const token = claim.handedToken ?? newToken();
  const instance = instanceRecord(paths, coords.endpoint.display);
  const sessions = new SessionTable();
  const registry = createRegistry("primary", paths, () => sessions.size);
  const downstream = createDownstream(paths, registry, "primary", claim.prestarted);
  const oauth = downstream.oauth;
  /** Sign-in flows in progress: like a session, each keeps the primary from lingering out under it. */
  let flows = 0;
  let server: NetServer | undefined;
  /** The HTTP endpoint, when config.json turns it on: HTTP clients come without a bridge, so it never lingers out. */
  let http: HttpService | undefined;
  let stopHeartbeat = () => {};
  let lingerTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  /** Set once the downstream processes are guarded (after the reap of a predecessor's). */
  const held: { guard?: ServerGuard } = {};
  const handover = new PrimaryHandover({
    exitsAfterHandover: opts.exitsAfterHandover === true,
    lockServer: lock.server,
    token,
    downstream,
    sessions,
    guard: () => held.guard,
    stopping: () => stopping !== undefined,
    letGo: async () => {
      stopHeartbeat();
      await http?.close(5000);
      http = undefined;
    },
    linger: (on) => (on ? armLinger() : clearTimeout(lingerTimer)),
    recordHandover: (to) => {
      if (to === undefined) delete instance.handover;
      else instance.handover = { to, since: new Date().toISOString() };
      try {
        writeInstance(paths.instanceFile, instance);
      } catch (err) {
        // Only `status` reads it, to wait for the next primary rather than call this one unresponsive.
        log.warn(`cannot record the handover in ${paths.instanceFile}: ${describeError(err)}`);
      }
    },
    shutdown: (why, fatal, handedTo) => void shutdown(why, fatal, handedTo),
  });
  let resolveDone!: (outcome: PrimaryOutcome) => void;
  const done = new Promise<PrimaryOutcome>((r) => (resolveDone = r));

  const armLinger = (ms = opts.lingerMs) => {
    clearTimeout(lingerTimer);
    if (sessions.size === 0 && flows === 0 && !http && !handover.active) {
      lingerTimer = setTimeout(() => void shutdown(`idle for ${ms} ms with no session`), ms);
    }
  };

  const status = async (): Promise<PrimaryStatus> => ({
    ...instance,
    uptime_s: Math.round(process.uptime()),
    sessions: sessions.size,
    tools: registry.names(),
    downstream: downstream.status(),
    clients: await Promise.all(sessions.views().map((v) => sessionStatus(v, v.client, registry.list()))),
  });

  const openSession = (socket: Socket, asked: SessionOptions & { moves?: boolean }, view: SessionView) => {
    const transport = new LineTransport({
      input: socket,
      output: socket,
      endOutput: true,
      onWarning: (m) => log.warn(`session: ${m}`),
      onClosed: () => {
        sessions.remove(session);
        log.info(`session closed (${sessions.size} left)`);
        if (!stopping) armLinger();
      },
    });
    clearTimeout(lingerTimer);
    socket.on("close", () => void transport.close());
    // The transport closes on a later tick at the earliest (socket events), so `session` is set by then.
    const { profile, maxNameLength, binding } = asked;
    const options: SessionOptions = {
      ...(profile !== undefined ? { profile } : {}),
      ...(maxNameLength !== undefined ? { maxNameLength } : {}),
      ...(binding !== undefined ? { binding } : {}),
    };
    // A bridge's session: its plain tools/call skip the SDK's per-request protocol work (src/gateway/lane.ts).
    const lane = new FastLane(transport);
    const session = serveSession(createSession({ registry, downstream, options, view, lane }), lane);
    if (!transport.isClosed) {
      sessions.add(session, socket, view, asked.moves === true);
    }
    log.info(`session opened (${sessions.size} connected)`);
  };

  const serveControl = (socket: Socket) =>
    readControlRequest(socket, (msg, op) => {
      if (isAuthRequest(msg)) {
        flows++;
        clearTimeout(lingerTimer);
        void serveAuthRequest(msg, oauth, () => remoteServersOf(paths.configFile), (e) => socket.write(JSON.stringify(e) + "\n")).finally(() => {
          socket.end();
          flows--;
          if (!stopping) armLinger();
        });
      } else if (op === "status") void status().then((s) => answerControl(socket, s));
      else if (op === "stop") {
        answerControl(socket, { ok: true, pid: process.pid });
        void shutdown("stop requested");
      } else if (op === "handover") handover.serve(socket, msg);
      else answerControl(socket, { ok: false, error: `unknown op ${String(op)}` });
    });

  const gate = createAdmission({ warn: (m) => log.warn(m), debug: (m) => log.debug(m) });
  const onConnection = (socket: Socket) => {
    socket.on("error", (err) => log.debug(`connection error: ${err.message}`));
    if (handover.take(socket)) return;
    if (stopping) {
      socket.destroy();
      return;
    }
    let view: SessionView | undefined;
    // A session's view is checked against the profiles of the config once it is read: an unknown profile
    // is served (every request answered with an error naming it) and its user told on the bridge's stderr.
    const welcome = async (hello: Hello): Promise<Welcome> => {
      const ok: Welcome = { ok: true, pid: process.pid, instance_id: instance.instance_id, version: VERSION };
      if (hello.kind !== "session") return ok;
      await downstream.configApplied();
      const { profile, maxNameLength } = hello;
      view = new SessionView(downstream, { ...(profile !== undefined ? { profile } : {}), ...(maxNameLength !== undefined ? { maxNameLength } : {}) });
      const problem = view.problem();
      if (problem) log.warn(`session: ${problem}`);
      return problem ? { ...ok, warning: problem } : ok;
    };
    gate
      .admit(socket, () => acceptHello(socket, token, welcome))
      .then((hello) => {
        if (hello === null) return;
        // Its handshake began before the shutdown did: a session opened now would never be closed (closeAll
        // has run), and its socket would keep the lock's server, and so the process, from ever ending.
        if (hello.kind === "session" && stopping) return void socket.destroy();
        return hello.kind === "session" ? openSession(socket, hello, view!) : serveControl(socket);
      })
      .catch((err) => log.warn(`session failed to open: ${describeError(err)}`));
  };

  /** `handedTo`: the next primary holds the lock and the servers; its files, token and socket stay as they are. */
  const shutdown = (why: string, fatal = false, handedTo?: NextPrimary): Promise<void> => {
    stopping ??= (async () => {
      log.info(`shutting down: ${why}`);
      // The lock's own socket (Linux) stays bound until the lock is released, last: closing it now would
      // free the lock while gateway.json and the downstream servers are still ours. New connections are
      // refused meanwhile (onConnection).
      if (server !== lock.server) server?.close();
      await http?.close(5000);
      await sessions.closeAll();
      // After the sessions, not before: the first one closes before `stopping` is set, and its onclose re-arms
      // the linger, whose timer would keep a stopped primary alive for the whole linger (30 s by default).
      clearTimeout(lingerTimer);
      await downstream.stop();
      oauth.stop();
      stopHeartbeat();
      gate.close();
      // The claim's guard, also when the start failed before the primary served (its servers are stopped by now).
      (held.guard ?? claim.guard)?.close();
      // Once the lock has moved, the token, the socket file and the lock are the next primary's too, whatever
      // ends this one (a signal, a failure after the point of no return): removing them would orphan it.
      const moved = handedTo ?? handover.movedTo;
      if (moved) {
        moved.release();
        log.info("stopped (handed over)");
        return resolveDone({ reason: why, fatal, handedOver: true });
      }
      handover.abandon();
      removeInstance(paths.instanceFile, instance.instance_id);
      removeToken(paths.tokenFile, token);
      if (coords.endpoint.file) removeSocketFile(coords.endpoint.file);
      await lock.release();
      log.info("stopped");
      resolveDone({ reason: why, fatal });
    })();
    return stopping;
  };

  const onSignal = (sig: NodeJS.Signals) => void shutdown(`received ${sig}`);
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, onSignal);
  const onFatal = (err: unknown) => {
    log.error(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    void shutdown("fatal error", true);
  };
  process.on("uncaughtException", onFatal);
  process.on("unhandledRejection", onFatal);

  try {
    writeToken(paths.tokenFile, token);
    // Taking over: the old primary's HTTP port is free only once it has let go (see takeOver below).
    if (!old) http = await startPrimaryHttp(paths, { registry, downstream });
    if (http) instance.http_url = http.url;
    writeInstance(paths.instanceFile, instance);
    // A primary whose socket file was deleted can no longer be found: it steps down so the next one can start.
    stopHeartbeat = startHeartbeat(paths.instanceFile, () => lock.stillHeld?.() ?? true, () => void shutdown(`its lock ${coords.lock.display} was removed`));
    server = await listenEndpoint(coords.endpoint, onConnection, lock);
  } catch (err) {
    await shutdown(`start failed: ${describeError(err)}`);
    throw isGatewayError(err) ? err : new GatewayError("STATE_DIR", describeError(err), { cause: err });
  }
  log.info(`primary ${VERSION} listening on ${coords.endpoint.display} (lock: ${coords.lock.display})`);
  if (old) {
    old.onConnection(onConnection);
    held.guard = await takeOver(old, paths, opts.watchdog, downstream);
    http = await startPrimaryHttp(paths, { registry, downstream });
    if (http) {
      instance.http_url = http.url;
      writeInstance(paths.instanceFile, instance);
    }
  } else {
    // Guarded since the claim (a predecessor's leftovers reaped before any server of ours started).
    held.guard = claim.guard;
    // Clients are served from now on; lists and calls wait (bounded) for servers still starting (or started early).
    downstream.start();
  }
  // The bridge that started us connects within moments; a short linger must not end us before it does.
  armLinger(Math.max(opts.lingerMs, STARTUP_GRACE_MS));
  const outcome = await done;
  for (const s of signals) process.off(s, onSignal);
  process.off("uncaughtException", onFatal);
  process.off("unhandledRejection", onFatal);
  return outcome;
}
