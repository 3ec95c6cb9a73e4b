import type { IncomingHttpHeaders } from "node:http";
import { LOOPBACK_NAMES, isLoopback } from "./address.js";
import { bearerToken, tokenAccepted } from "./tokens.js";

/** Why a request is turned away before it reaches MCP: the HTTP status and a one-line reason. */
export interface Refusal {
  status: 401 | 403;
  message: string;
}

/** What the guard checks a request against. */
export interface GuardOptions {
  /** The accepted bearer tokens; empty = no token required (only allowed on a loopback listener). */
  tokens: readonly string[];
  /** The listener is on loopback: Host must then name this machine (the DNS rebinding defence). */
  loopback: boolean;
}

/** The host name of a Host header (`127.0.0.1:8080`, `[::1]:80`, `example.com`), lower-cased. */
function hostName(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Checks a request's Origin, Host and bearer token, in that order; undefined when it may proceed.
 *
 * MCP Streamable HTTP (2025-11-25 and 2026-07-28, "Security"): servers MUST validate Origin on every
 * request and answer 403 to a present, invalid one. A browser page is the only sender of an Origin, and
 * the only page allowed here is one served by this same endpoint's host or by this machine. On a loopback
 * listener, the Host must name this machine too: a page that rebinds its own domain to 127.0.0.1 sends
 * its own domain as Host. Then the token, compared in constant time (401, with a Bearer challenge).
 */
export function checkRequest(headers: IncomingHttpHeaders, opts: GuardOptions): Refusal | undefined {
  const host = headers.host === undefined ? undefined : hostName(headers.host);
  if (opts.loopback && (host === undefined || !(LOOPBACK_NAMES as readonly string[]).includes(host) && !isLoopback(host))) {
    return { status: 403, message: `Forbidden: Host ${JSON.stringify(headers.host ?? "")} is not this machine` };
  }
  const origin = headers.origin;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).hostname.replace(/^\[|\]$/g, "").toLowerCase();
    } catch {
      originHost = undefined;
    }
    const allowed = originHost !== undefined && (isLoopback(originHost) || originHost === host);
    if (!allowed) return { status: 403, message: `Forbidden: Origin ${JSON.stringify(origin)} may not use this endpoint` };
  }
  if (opts.tokens.length && !tokenAccepted(bearerToken(headers.authorization), opts.tokens)) {
    return {
      status: 401,
      message: headers.authorization === undefined ? "Unauthorized: a bearer token is required" : "Unauthorized: the bearer token is not accepted",
    };
  }
  return undefined;
}
