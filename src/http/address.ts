import { isIP } from "node:net";
import { GatewayError } from "../errors.js";

/** Where an HTTP endpoint listens. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Host names that mean this machine only. */
export const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"] as const;

/** True for an address only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  // An IPv4-mapped IPv6 loopback (::ffff:127.x.y.z) is loopback too.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped !== null && mapped[1]!.startsWith("127.");
}

/** Parses a port: an integer 0–65535 (0 = let the system pick). */
export function parsePort(raw: string | number, what: string): number {
  const s = String(raw).trim();
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new GatewayError("USAGE", `${what}: "${s}" is not a port (0-65535)`);
  return n;
}

/**
 * Parses `serve --http`'s `[host:]port`: `8080`, `0.0.0.0:8080`, `[::]:8080`, `localhost:0`. Without a
 * host it listens on 127.0.0.1, as the spec advises for a local server.
 */
export function parseListenAddress(raw: string): ListenAddress {
  const s = raw.trim();
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (bracketed) return { host: bracketed[1]!, port: parsePort(bracketed[2]!, "--http") };
  const colon = s.lastIndexOf(":");
  if (colon < 0) return { host: "127.0.0.1", port: parsePort(s, "--http") };
  const host = s.slice(0, colon);
  if (!host || host.includes(":")) throw new GatewayError("USAGE", `--http: "${s}" is not [host:]port (write an IPv6 host as [::1]:8080)`);
  return { host, port: parsePort(s.slice(colon + 1), "--http") };
}

/** The URL clients use for an endpoint listening at host:port. */
export function endpointUrl(host: string, port: number): string {
  const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${isIP(h) === 6 ? `[${h}]` : h}:${port}/mcp`;
}
