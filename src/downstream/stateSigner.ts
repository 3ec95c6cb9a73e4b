import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

/** The `requestState` the gateway hands a client: what it needs to carry out the retry, signed. */
export interface StateClaims {
  /** Expiry, ms since the epoch. */
  exp: number;
  /** The session the call came from ("" where none can be named). */
  bind: string;
  /** The originating request: method, the name the client called, a digest of its arguments. */
  req: string;
  /** The downstream server that holds the call. */
  srv: string;
  /** What the retry resumes. */
  body: StateBody;
}

/** A modern server's own state (passed through), a legacy server's call parked in this process, or a call to repeat. */
export type StateBody = { k: "pass"; ds?: string } | { k: "park"; id: string } | { k: "again" };

/** Why a `requestState` is refused; each reaches the client in a JSON-RPC error's message. */
export type StateRejection = "malformed" | "forged" | "expired" | "other-request" | "other-session";

const PREFIX = "g1";

/** Thrown by `open`: the client's `requestState` cannot be trusted for this request. */
export class StateRejected extends Error {
  constructor(readonly reason: StateRejection) {
    super(
      {
        malformed: "requestState is not one this gateway issued",
        forged: "requestState is not one this gateway issued (its signature does not match)",
        expired: "requestState has expired: call the tool again",
        "other-request": "requestState was issued for another request",
        "other-session": "requestState was issued to another session",
      }[reason],
    );
  }
}

/** A digest naming one request: its method, target and arguments (key order does not matter). */
export function requestDigest(method: string, name: string, args: unknown): string {
  return `${method}\u0000${name}\u0000${createHash("sha256").update(stableJson(args ?? {})).digest("base64url")}`;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * Seals and opens the gateway's `requestState`: HMAC-SHA256 over the claims, keyed by a key derived from the
 * installation's secret, so any primary of the installation opens what another issued. Signed, not
 * encrypted: the client can read the claims, so nothing secret goes in. The spec treats the echoed value as
 * attacker-controlled input (basic/patterns/mrtr, server requirements 4 and 5): integrity, an expiry, and a
 * binding to the principal and the originating request are all checked here.
 */
export class StateSigner {
  private readonly key: Buffer;

  constructor(
    secret: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), "claude-mpm-gateway requestState v1", 32));
  }

  /** A signer whose states no other process can open (the `test` command, unit tests). */
  static ephemeral(): StateSigner {
    return new StateSigner(randomBytes(32));
  }

  /** The claims sealed into a string the client echoes back verbatim. */
  seal(claims: Omit<StateClaims, "exp">, ttlMs: number): string {
    const payload = Buffer.from(JSON.stringify({ ...claims, exp: this.now() + ttlMs })).toString("base64url");
    return `${PREFIX}.${payload}.${this.mac(payload)}`;
  }

  /** The claims of a state this installation issued for this session and request; throws StateRejected otherwise. */
  open(token: unknown, expect: { bind: string; req: string }): StateClaims {
    if (typeof token !== "string" || token.length > 64 * 1024) throw new StateRejected("malformed");
    const [prefix, payload, mac, ...rest] = token.split(".");
    if (prefix !== PREFIX || !payload || !mac || rest.length) throw new StateRejected("malformed");
    const want = Buffer.from(this.mac(payload));
    const got = Buffer.from(mac);
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new StateRejected("forged");
    let claims: StateClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as StateClaims;
    } catch {
      throw new StateRejected("malformed"); // signed by us yet unreadable: only a bug gets here
    }
    if (typeof claims.exp !== "number" || claims.exp <= this.now()) throw new StateRejected("expired");
    if (claims.bind !== expect.bind) throw new StateRejected("other-session");
    if (claims.req !== expect.req) throw new StateRejected("other-request");
    return claims;
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.key).update(`${PREFIX}.${payload}`).digest("base64url");
  }
}
