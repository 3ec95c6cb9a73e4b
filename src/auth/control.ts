import type { Socket } from "node:net";
import { GatewayError, describeError, isGatewayError } from "../errors.js";
import type { AuthStatus, OAuthManager, RemoteServer } from "./manager.js";

/** A line the primary sends back on an auth control request. */
export type AuthEvent =
  | { event: "url"; url: string; joined: boolean }
  | { event: "done"; result: string }
  | { event: "status"; servers: AuthStatus[] }
  | { event: "error"; code: string; message: string };

/** An auth request on the control channel. */
export interface AuthRequest {
  op: "auth-login" | "auth-logout" | "auth-status";
  server?: string;
}

/** True when a control message is an auth request. */
export function isAuthRequest(msg: unknown): msg is AuthRequest {
  const op = (msg as { op?: unknown } | null)?.op;
  return op === "auth-login" || op === "auth-logout" || op === "auth-status";
}

/**
 * Serves one auth request in the primary, writing one JSON line per event. A login streams the
 * authorization URL first (for the terminal that asked to print and open), then the outcome.
 */
export async function serveAuthRequest(req: AuthRequest, manager: OAuthManager, remotes: () => RemoteServer[], write: (e: AuthEvent) => void): Promise<void> {
  try {
    if (req.op === "auth-status") return write({ event: "status", servers: remotes().map((s) => manager.status(s)) });
    const server = String(req.server ?? "");
    if (req.op === "auth-logout") return write({ event: "done", result: await manager.logout(server) });
    const result = await manager.login(server, (url, joined) => write({ event: "url", url, joined }));
    write({ event: "done", result });
  } catch (err) {
    write({ event: "error", code: isGatewayError(err) ? err.code : "OAUTH_FAILED", message: describeError(err) });
  }
}

/** Sends an auth request over an authenticated control connection and hands each event line to `onEvent`. */
export function sendAuthRequest(socket: Socket, req: AuthRequest, onEvent: (e: AuthEvent) => void, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let buf = "";
    let finished = false;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new GatewayError("PRIMARY_UNRESPONSIVE", `the gateway gave no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl !== -1; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let e: AuthEvent;
        try {
          e = JSON.parse(line) as AuthEvent;
        } catch {
          return finish(new GatewayError("PRIMARY_UNRESPONSIVE", "the gateway sent an unreadable answer"));
        }
        try {
          onEvent(e);
        } catch (err) {
          return finish(err as Error);
        }
        if (e.event !== "url") return finish();
      }
    });
    socket.once("close", () => finish(new GatewayError("PRIMARY_UNREACHABLE", "the gateway closed the connection before answering (it may have stopped)")));
    socket.once("error", (err) => finish(err));
    socket.write(JSON.stringify(req) + "\n");
    socket.resume();
  });
}
