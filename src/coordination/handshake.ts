import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import type { Socket } from "node:net";
import { GatewayError } from "../errors.js";
import { writeFileAtomic } from "./atomicWrite.js";

/** What a connection is for: an MCP session (a bridge) or one control request (status, stop). */
export type ConnectionKind = "session" | "control";

/** The primary's answer to an accepted hello. */
export interface Welcome {
  ok: true;
  pid: number;
  instance_id: string;
  /** The primary's version (absent from primaries before upgrade in place: gateway.json has it). */
  version?: string;
  /** For the user, on the bridge's stderr: the session is served, but not as asked (an unknown profile). */
  warning?: string;
}

/** What a session's client asks for in its hello: its own view of the gateway (`--profile`, `--max-name-length`). */
export interface SessionRequest {
  profile?: string;
  maxNameLength?: number;
  /**
   * The bridge's own random id, the same for every primary it reaches: a session's multi-round-trip state is
   * bound to it, so a retry after a takeover is honoured and no other session can use it.
   */
  binding?: string;
  /** The bridge moves its session to the next primary when told (a handover) instead of losing its calls. */
  moves?: boolean;
}

/** An accepted hello: the connection's kind and, for a session, what its client asked for. */
export interface Hello extends SessionRequest {
  kind: ConnectionKind;
}

/** A hello is one short line; anything longer, or slower than this, is not a gateway client. */
const MAX_HELLO_BYTES = 1024;
export const HELLO_TIMEOUT_MS = 2000;
/** Why a connection that sent nothing before closing was refused: a lock probe, not worth a warning. */
export const CLOSED_UNREAD = "closed before sending a byte";

/** Makes a fresh secret for this primary's lifetime. */
export function newToken(): string {
  return randomBytes(32).toString("hex");
}

/** Stores the token where only the owner can read it (0600 in the 0700 state dir). */
export function writeToken(file: string, token: string): void {
  writeFileAtomic(file, token + "\n", 0o600);
}

/** Reads the current token, or undefined when there is none. */
export function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Removes the token file if it still holds `token` (a newer primary's token is left alone). */
export function removeToken(file: string, token: string): void {
  if (readToken(file) === token) {
    try {
      unlinkSync(file);
    } catch {
      // gone already
    }
  }
}

/**
 * Reads one line from a socket within a byte and time bound. Bytes after the line are pushed back so the
 * next reader sees them; the socket is left paused.
 */
function readLine(socket: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const finish = (err: Error | null, line?: string) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("error", onError);
      socket.pause();
      if (err) reject(err);
      else resolve(line!);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl === -1) {
        if (buf.length > MAX_HELLO_BYTES) finish(new Error("hello line too long"));
        return;
      }
      const rest = buf.subarray(nl + 1);
      finish(null, buf.subarray(0, nl).toString("utf8"));
      if (rest.length) socket.unshift(rest);
    };
    const onClose = () => finish(new Error(buf.length ? "connection closed during hello" : CLOSED_UNREAD));
    const onError = (err: Error) => finish(err);
    const timer = setTimeout(() => finish(new Error("no hello within the time limit")), timeoutMs);
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.once("error", onError);
    // The previous line's reader left the socket paused (and may have pushed bytes back): flow again.
    socket.resume();
  });
}

/** The handshake's protocol version, in every hello. */
const PROTOCOL = 2;

/** Proof of holding the token for one nonce; the role keeps a primary's proof from serving as a client's. */
export function proofFor(token: string, role: "primary" | "client", nonce: string): string {
  return createHmac("sha256", token).update(`${role}:${nonce}`).digest("hex");
}

function proofsEqual(a: unknown, b: string): boolean {
  if (typeof a !== "string") return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parse(line: string): Record<string, unknown> {
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === "object" ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const nonce = () => randomBytes(16).toString("hex");

/*
 * Mutual proof of the token, which never crosses the wire: on Linux and Windows the endpoint's name can be
 * seen by other local users, and one who binds it while no primary runs must learn nothing from a client.
 *   client → {claude_mpm_gateway: 2, kind, nonce: Nc[, profile, max_name_length, session_id]}   (a session's own view)
 *   primary → {nonce: Ns, proof: HMAC(token, "primary:" + Nc)}    the client checks it, else hangs up
 *   client → {proof: HMAC(token, "client:" + Ns)}                  the primary checks it, else hangs up
 *   primary → welcome {ok, pid, instance_id, version}; then the connection carries its kind's traffic.
 */

/** The session fields of a hello, if well-formed; a client that sends none asks for the default view. */
function sessionRequest(hello: Record<string, unknown>): SessionRequest | undefined {
  const { profile, max_name_length: max, session_id: binding, moves } = hello;
  if (profile !== undefined && (typeof profile !== "string" || !profile || profile.length > 200)) return undefined;
  if (max !== undefined && !Number.isInteger(max)) return undefined;
  if (binding !== undefined && (typeof binding !== "string" || !/^[A-Za-z0-9_-]{16,64}$/.test(binding))) return undefined;
  return {
    ...(profile !== undefined ? { profile } : {}),
    ...(max !== undefined ? { maxNameLength: max as number } : {}),
    ...(binding !== undefined ? { binding } : {}),
    ...(moves === true ? { moves: true } : {}),
  };
}

/**
 * Primary side: accepts a connection only if the peer proves it holds the token; else destroys it unread.
 * `welcome` may depend on the hello (a warning about the session it asked for).
 */
export async function acceptHello(socket: Socket, token: string, welcome: Welcome | ((hello: Hello) => Welcome | Promise<Welcome>)): Promise<Hello> {
  const refuse = (why: string): never => {
    socket.destroy();
    throw new GatewayError("AUTH_FAILED", `connection refused: ${why}`);
  };
  let hello: Record<string, unknown>;
  try {
    hello = parse(await readLine(socket, HELLO_TIMEOUT_MS));
  } catch (err) {
    return refuse((err as Error).message);
  }
  const { kind } = hello;
  const session = sessionRequest(hello);
  if (hello.claude_mpm_gateway !== PROTOCOL || typeof hello.nonce !== "string" || hello.nonce.length !== 32 || (kind !== "session" && kind !== "control") || !session) {
    return refuse("not a gateway hello");
  }
  const ours = nonce();
  socket.write(JSON.stringify({ nonce: ours, proof: proofFor(token, "primary", hello.nonce) }) + "\n");
  let answer: Record<string, unknown>;
  try {
    answer = parse(await readLine(socket, HELLO_TIMEOUT_MS));
  } catch (err) {
    return refuse((err as Error).message);
  }
  if (!proofsEqual(answer.proof, proofFor(token, "client", ours))) return refuse("missing or wrong token");
  const accepted: Hello = { kind, ...session };
  socket.write(JSON.stringify(typeof welcome === "function" ? await welcome(accepted) : welcome) + "\n");
  return accepted;
}

/** Client side: proves it holds the token to a primary that proves it too, and returns the welcome. */
export async function sendHello(socket: Socket, token: string, kind: ConnectionKind, timeoutMs = HELLO_TIMEOUT_MS, session: SessionRequest = {}): Promise<Welcome> {
  const fail = (why: string): never => {
    socket.destroy();
    throw new GatewayError("AUTH_FAILED", `the primary refused the connection (${why})`);
  };
  const ours = nonce();
  const asked = {
    ...(session.profile !== undefined ? { profile: session.profile } : {}),
    ...(session.maxNameLength !== undefined ? { max_name_length: session.maxNameLength } : {}),
    ...(session.binding !== undefined ? { session_id: session.binding } : {}),
    ...(session.moves ? { moves: true } : {}),
  };
  socket.write(JSON.stringify({ claude_mpm_gateway: PROTOCOL, kind, nonce: ours, ...asked }) + "\n");
  let challenge: Record<string, unknown>;
  try {
    challenge = parse(await readLine(socket, timeoutMs));
  } catch (err) {
    return fail((err as Error).message);
  }
  // Whoever answers must know the token before it gets a byte more from us.
  if (!proofsEqual(challenge.proof, proofFor(token, "primary", ours)) || typeof challenge.nonce !== "string") {
    return fail("it could not prove it holds the token");
  }
  socket.write(JSON.stringify({ proof: proofFor(token, "client", challenge.nonce) }) + "\n");
  let welcome: Record<string, unknown>;
  try {
    welcome = parse(await readLine(socket, timeoutMs));
  } catch (err) {
    return fail((err as Error).message);
  }
  if (welcome.ok !== true) return fail("no welcome");
  return welcome as unknown as Welcome;
}
