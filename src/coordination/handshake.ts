import { randomBytes, timingSafeEqual } from "node:crypto";
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
}

/** A hello is one short line; anything longer, or slower than this, is not a gateway client. */
const MAX_HELLO_BYTES = 1024;
export const HELLO_TIMEOUT_MS = 2000;

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
    const onClose = () => finish(new Error("connection closed during hello"));
    const onError = (err: Error) => finish(err);
    const timer = setTimeout(() => finish(new Error("no hello within the time limit")), timeoutMs);
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.once("error", onError);
  });
}

function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Primary side: accepts a connection only if its first line carries the token; else destroys it unread. */
export async function acceptHello(socket: Socket, token: string, welcome: Welcome): Promise<ConnectionKind> {
  let line: string;
  try {
    line = await readLine(socket, HELLO_TIMEOUT_MS);
  } catch (err) {
    socket.destroy();
    throw new GatewayError("AUTH_FAILED", (err as Error).message);
  }
  let hello: { token?: unknown; kind?: unknown };
  try {
    hello = JSON.parse(line);
  } catch {
    hello = {};
  }
  if (typeof hello.token !== "string" || !tokensEqual(hello.token, token) || (hello.kind !== "session" && hello.kind !== "control")) {
    socket.destroy();
    throw new GatewayError("AUTH_FAILED", "connection refused: missing or wrong token");
  }
  socket.write(JSON.stringify(welcome) + "\n");
  return hello.kind;
}

/** Client side: presents the token and waits for the primary's welcome. */
export async function sendHello(socket: Socket, token: string, kind: ConnectionKind, timeoutMs = HELLO_TIMEOUT_MS): Promise<Welcome> {
  socket.write(JSON.stringify({ claude_mpm_gateway: 1, kind, token }) + "\n");
  let line: string;
  try {
    line = await readLine(socket, timeoutMs);
  } catch (err) {
    socket.destroy();
    throw new GatewayError("AUTH_FAILED", `the primary refused the connection (${(err as Error).message})`);
  }
  const welcome = JSON.parse(line) as Welcome;
  if (welcome.ok !== true) throw new GatewayError("AUTH_FAILED", "the primary refused the connection");
  return welcome;
}
