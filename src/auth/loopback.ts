import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GatewayError } from "../errors.js";

/** What the authorization server sent back to the loopback redirect. */
export interface CallbackParams {
  code: string;
  /** RFC 9207 issuer identification, when the AS sends it (the SDK checks it). */
  iss?: string;
}

/** A one-shot redirect listener on 127.0.0.1. */
export interface LoopbackListener {
  redirectUrl: string;
  port: number;
  /** Resolves with the code of the first callback whose `state` matches; rejects on an error reply or timeout. */
  wait(state: string, timeoutMs: number, signal?: AbortSignal): Promise<CallbackParams>;
  close(): Promise<void>;
}

const PATH = "/callback";

function page(title: string, body: string): string {
  const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title><body style="font-family:sans-serif;margin:3em"><h1>${esc(title)}</h1><p>${esc(body)}</p>`;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    // 127.0.0.1, not "localhost": the name may resolve to ::1 or elsewhere (RFC 8252 §8.3).
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Listens for the authorization server's redirect on 127.0.0.1, at `preferredPort` when it is free (the port a
 * client was registered with) or else at an ephemeral port. Only a callback carrying the flow's `state` is
 * accepted (RFC 6749 §10.12): anything else gets a 400 and the flow keeps waiting.
 */
export async function listenLoopback(server: string, preferredPort?: number): Promise<LoopbackListener> {
  let settle: { resolve(p: CallbackParams): void; reject(e: Error): void; state: string } | undefined;
  const http = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const send = (status: number, title: string, body: string) => {
      res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(page(title, body));
    };
    if (req.method !== "GET" || url.pathname !== PATH) return send(404, "Not found", "This is the sign-in listener of claude-mpm-gateway.");
    const q = url.searchParams;
    if (!settle || q.get("state") !== settle.state) return send(400, "Sign-in not recognised", "This answer does not belong to the sign-in in progress; it was ignored.");
    const error = q.get("error");
    if (error) {
      // error_description comes from whoever sent the browser here: only the registered error code is shown.
      send(400, "Sign-in refused", `The authorization server answered "${error.slice(0, 64)}". Run the sign-in again from the terminal.`);
      settle.reject(new GatewayError("OAUTH_FAILED", `the authorization server refused the sign-in for "${server}": ${error.slice(0, 64)}`));
      return;
    }
    const code = q.get("code");
    if (!code) return send(400, "Sign-in incomplete", "The answer carries no authorization code.");
    send(200, "Signed in", `claude-mpm-gateway is signed in to "${server}". You can close this tab.`);
    const iss = q.get("iss");
    settle.resolve({ code, ...(iss ? { iss } : {}) });
  });
  http.keepAliveTimeout = 1000;
  let port: number;
  try {
    port = await listen(http, preferredPort ?? 0);
  } catch {
    port = await listen(http, 0);
  }
  return {
    port,
    redirectUrl: `http://127.0.0.1:${port}${PATH}`,
    wait(state, timeoutMs, signal) {
      return new Promise<CallbackParams>((resolve, reject) => {
        const timer = setTimeout(() => fail(new GatewayError("OAUTH_FAILED", `no sign-in for "${server}" within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
        const onAbort = () => fail(new GatewayError("OAUTH_FAILED", `the sign-in for "${server}" was cancelled`));
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          settle = undefined;
        };
        const fail = (e: Error) => {
          done();
          reject(e);
        };
        settle = {
          state,
          resolve: (p) => {
            done();
            resolve(p);
          },
          reject: fail,
        };
        if (signal?.aborted) onAbort();
        else signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
