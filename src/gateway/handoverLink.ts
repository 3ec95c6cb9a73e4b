// The channel between a primary handing over and the next primary it started: a Node IPC channel (fd 3 of
// the next one), the only way Node passes handles between processes. Over it go the lock's listening
// socket, each running server's stdio pipes with what the gateway knows of it, and connections the old
// primary still accepts; back come "hello" and "adopted". Both sides live here so the protocol is one file.
import { spawn, type ChildProcess } from "node:child_process";
import { homedir } from "node:os";
import type { Server as NetServer, Socket } from "node:net";
import { GatewayError } from "../errors.js";
import type { HandoverProgram } from "../coordination/handover.js";
import type { Adoptable, HandedServer } from "../downstream/downstream.js";
import type { StdioPipes } from "../downstream/connection.js";
import type { RecordedGroup } from "../downstream/serverRecord.js";

/** The version of the messages below; a next primary that speaks another refuses before taking anything. */
export const HANDOVER_PROTOCOL = 1;

/** The internal flag of a primary started to take over (with the IPC channel). */
export const HANDOVER_FLAG = "--handover";

type Pipe = keyof StdioPipes;
const PIPES: Pipe[] = ["stdin", "stdout", "stderr"];

/** Messages, each one JSON line over the channel; `handle` travels beside some. */
type ToNext =
  | { t: "lock"; protocol: number; token: string }
  | { t: "pipe"; name: string; pipe: Pipe; server?: HandedServer }
  | { t: "done"; groups: RecordedGroup[] }
  | { t: "conn" };
type ToOld = { t: "hello"; protocol: number; pid: number; version: string } | { t: "adopted"; pids: number[] } | { t: "refused"; why: string };

/** The old primary's end: the next primary, started and said hello. */
export interface NextPrimary {
  readonly pid: number;
  /** Gives it the lock (the listening socket stays open here too: closing it would unlink its file). */
  sendLock(server: NetServer, token: string): Promise<void>;
  /** Gives it the servers: their pipes are closed here once sent. */
  sendServers(servers: Array<{ handed: HandedServer; pipes: StdioPipes }>, groups: RecordedGroup[]): Promise<void>;
  /** Resolves with the pids it now records and watches; rejects if it goes or takes longer than `ms`. */
  adopted(ms: number): Promise<number[]>;
  /** Passes on a connection this process accepted after the lock moved; false when the channel is gone. */
  forward(socket: Socket): boolean;
  /** Rejects when it exits or drops the channel before `release`. */
  readonly lost: Promise<never>;
  /** Why it is lost, once it is. */
  lostWhy(): string | undefined;
  /** Ends the channel: it runs on its own. */
  release(): void;
  kill(): void;
}

const sendOn = (child: ChildProcess, msg: ToNext, handle?: NetServer | Socket, keepOpen = false) =>
  new Promise<void>((resolve, reject) => {
    const ok = child.send(msg, handle as Socket, { keepOpen }, (err) => (err ? reject(err) : resolve()));
    if (!ok && !child.connected) reject(new GatewayError("PRIMARY_UNREACHABLE", "the next primary closed its channel"));
  });

/** Starts `program` as the next primary with a channel to this one, and waits (bounded) for its hello. */
export async function startNext(program: HandoverProgram, timeoutMs: number): Promise<NextPrimary> {
  const child = spawn(program.command, [...program.args, "--primary", HANDOVER_FLAG], {
    // As spawnPrimary: detached from everyone's process group, not pinning a cwd.
    cwd: homedir(),
    detached: true,
    stdio: ["ignore", "ignore", "ignore", "ipc"],
    windowsHide: true,
    env: process.env,
    serialization: "json",
  });
  let released = false;
  let why: string | undefined;
  let onLost!: (err: Error) => void;
  const lost = new Promise<never>((_, reject) => (onLost = reject));
  lost.catch(() => undefined);
  const gone = (what: string) => {
    if (released || why) return;
    why = `the next primary (pid ${child.pid ?? "?"}) ${what}`;
    onLost(new GatewayError("PRIMARY_UNREACHABLE", why));
  };
  child.once("error", (err) => gone(`could not start: ${err.message}`));
  child.once("exit", (code, signal) => gone(`exited with ${signal ?? `code ${code}`}`));
  child.once("disconnect", () => gone("closed its channel"));
  const messages: ToOld[] = [];
  let wake = () => {};
  child.on("message", (m: ToOld) => {
    messages.push(m);
    wake();
  });
  const next = async <T extends ToOld["t"]>(t: T, ms: number): Promise<Extract<ToOld, { t: T }>> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = messages.findIndex((m) => m.t === t || m.t === "refused");
      if (i >= 0) {
        const m = messages.splice(i, 1)[0]!;
        if (m.t === "refused") throw new GatewayError("PRIMARY_UNREACHABLE", `the next primary refused: ${m.why}`);
        return m as Extract<ToOld, { t: T }>;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new GatewayError("PRIMARY_UNREACHABLE", `the next primary (pid ${child.pid ?? "?"}) did not say "${t}" within ${ms} ms`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([lost, new Promise<void>((r) => ((wake = r), (timer = setTimeout(r, left))))]).finally(() => clearTimeout(timer));
    }
  };
  const kill = () => {
    released = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // gone already
    }
  };
  try {
    const hello = await next("hello", timeoutMs);
    if (hello.protocol !== HANDOVER_PROTOCOL) throw new GatewayError("PRIMARY_UNREACHABLE", `the next primary speaks handover protocol ${hello.protocol}, this one ${HANDOVER_PROTOCOL}`);
  } catch (err) {
    kill();
    throw err;
  }
  return {
    pid: child.pid!,
    sendLock: (server, token) => sendOn(child, { t: "lock", protocol: HANDOVER_PROTOCOL, token }, server, true),
    sendServers: async (servers, groups) => {
      for (const { handed, pipes } of servers) {
        for (const pipe of PIPES) await sendOn(child, { t: "pipe", name: handed.name, pipe, ...(pipe === "stdin" ? { server: handed } : {}) }, pipes[pipe]);
      }
      await sendOn(child, { t: "done", groups });
    },
    adopted: async (ms) => (await next("adopted", ms)).pids,
    forward: (socket) => {
      if (released || !child.connected) return false;
      child.send({ t: "conn" } satisfies ToNext, socket, undefined, (err) => (err ? socket.destroy() : undefined));
      return true;
    },
    lost,
    lostWhy: () => why,
    release: () => {
      released = true;
      if (child.connected) child.disconnect();
      child.unref();
    },
    kill,
  };
}

/** The next primary's end: what the old one handed over, as it arrives. */
export interface FromOld {
  /** The lock's listening socket and the token; rejects if the old primary goes first or `ms` passes. */
  lock(ms: number): Promise<{ server: NetServer; token: string }>;
  /** The servers, once all have come; null if the old primary went before it said done. */
  servers(ms: number): Promise<{ servers: Adoptable[]; leftovers: StdioPipes[] } | null>;
  /** Tells the old primary which groups this one now records and watches. */
  adopted(pids: number[]): void;
  /** Connections the old primary accepted after the lock moved. */
  onConnection(fn: (socket: Socket) => void): void;
  /** Resolves when the old primary has let go (or died). */
  readonly gone: Promise<void>;
}

/** True in a primary started by another one to take over from it. */
export function startedForHandover(argv: string[] = process.argv): boolean {
  return argv.includes(HANDOVER_FLAG) && typeof process.send === "function";
}

/** Opens this (next) primary's end: says hello, then collects what comes. */
export function fromOld(version: string): FromOld {
  const send = (m: ToOld) => process.send?.(m);
  let onGone!: () => void;
  const gone = new Promise<void>((r) => (onGone = r));
  process.once("disconnect", () => onGone());
  let lock: { server: NetServer; token: string } | undefined;
  let done: RecordedGroup[] | undefined;
  const pipes = new Map<string, Partial<StdioPipes> & { server?: HandedServer }>();
  // Connections passed on before this primary listens wait for it; one whose client gives up meanwhile leaves.
  const early = new Set<HeldConnection>();
  let onConn: (socket: Socket) => void = (s) => void early.add(holdUnserved(s, (held) => early.delete(held)));
  let wake = () => {};
  process.on("message", (m: ToNext, handle?: NetServer | Socket) => {
    if (m.t === "lock" && handle) {
      if (m.protocol !== HANDOVER_PROTOCOL) return send({ t: "refused", why: `lock message of protocol ${m.protocol}` });
      lock = { server: handle as NetServer, token: m.token };
    } else if (m.t === "pipe" && handle) {
      const entry = pipes.get(m.name) ?? {};
      entry[m.pipe] = handle as Socket;
      if (m.server) entry.server = m.server;
      pipes.set(m.name, entry);
    } else if (m.t === "done") done = m.groups;
    else if (m.t === "conn" && handle) return onConn(handle as Socket);
    wake();
  });
  const until = async <T>(get: () => T | undefined, ms: number, what: string): Promise<T | undefined> => {
    const deadline = Date.now() + ms;
    let ended = false;
    void gone.then(() => ((ended = true), wake()));
    for (;;) {
      const v = get();
      if (v !== undefined || ended) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new GatewayError("PRIMARY_UNREACHABLE", `the previous primary did not hand over ${what} within ${ms} ms`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => ((wake = r), (timer = setTimeout(r, left))));
      clearTimeout(timer);
    }
  };
  send({ t: "hello", protocol: HANDOVER_PROTOCOL, pid: process.pid, version });
  return {
    lock: async (ms) => {
      const got = await until(() => lock, ms, "the lock");
      if (!got) throw new GatewayError("PRIMARY_UNREACHABLE", "the previous primary went before handing over the lock");
      return got;
    },
    servers: async (ms) => {
      const groups = await until(() => done, ms, "its servers");
      if (!groups) return null;
      const servers: Adoptable[] = [];
      const leftovers: StdioPipes[] = [];
      for (const e of pipes.values()) {
        const group = groups.find((g) => g.pid === e.server?.pid);
        if (!e.stdin || !e.stdout || !e.stderr) continue;
        const p = { stdin: e.stdin, stdout: e.stdout, stderr: e.stderr };
        if (e.server && group) servers.push({ handed: e.server, pipes: p, group });
        else leftovers.push(p);
      }
      return { servers, leftovers };
    },
    adopted: (pids) => send({ t: "adopted", pids }),
    onConnection: (fn) => {
      onConn = fn;
      const waiting = [...early];
      early.clear();
      for (const held of waiting) {
        const s = held.release();
        if (s) fn(s);
      }
    },
    gone,
  };
}

/** A connection held until this primary serves it. */
export interface HeldConnection {
  /** Stops holding: the socket with what it sent so far put back, to be read as if just accepted; undefined if it closed. */
  release(): Socket | undefined;
}

/**
 * Holds a connection passed on by the old primary until this one serves. Its bytes are read meanwhile (a
 * socket that is not read never learns that its peer closed) and put back on release, so a client that gives
 * up leaves (`closed` is called) instead of being served later on a dead socket.
 */
export function holdUnserved(socket: Socket, closed: (held: HeldConnection) => void): HeldConnection {
  const chunks: Buffer[] = [];
  const read = () => {
    for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) chunks.push(chunk);
  };
  const onClose = () => closed(held);
  // An error is followed by "close"; until this primary serves it, no one else listens for either.
  const onError = () => {};
  socket.on("readable", read);
  socket.once("close", onClose);
  socket.on("error", onError);
  const held: HeldConnection = {
    release: () => {
      socket.off("readable", read);
      socket.off("close", onClose);
      socket.off("error", onError);
      if (socket.destroyed || socket.readableEnded) {
        socket.destroy();
        return undefined;
      }
      if (chunks.length) socket.unshift(Buffer.concat(chunks));
      return socket;
    },
  };
  return held;
}
