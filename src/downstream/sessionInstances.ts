import type { DownstreamStatus } from "../coordination/status.js";
import type { ServerConfig } from "./config.js";
import type { Downstream } from "./downstream.js";

/**
 * The instances of `"scope": "session"` servers: one per (session, server), started on the session's first
 * use of that server and stopped when the session ends, the server's config entry changes, or the gateway
 * stops. For a server that keeps per-client state (a browser, a shell), so no client meets another's.
 */
export class SessionInstances {
  private readonly bySession = new Map<number, Map<string, Downstream>>();

  constructor(private readonly make: (name: string, config: ServerConfig, session: number) => Downstream) {}

  /** The session's instance of a server, started now if it has none. */
  get(name: string, config: ServerConfig, session: number): Downstream {
    let mine = this.bySession.get(session);
    if (!mine) this.bySession.set(session, (mine = new Map()));
    let d = mine.get(name);
    if (!d) {
      d = this.make(name, config, session);
      mine.set(name, d);
      d.start();
    }
    return d;
  }

  /** Stops every instance of a session that ended. */
  async endSession(session: number): Promise<void> {
    const mine = this.bySession.get(session);
    this.bySession.delete(session);
    await Promise.all([...(mine?.values() ?? [])].map((d) => d.stop()));
  }

  /** Stops every session's instance of a server (removed or changed in the config). */
  async endServer(name: string): Promise<void> {
    const ending: Array<Promise<void>> = [];
    for (const mine of this.bySession.values()) {
      const d = mine.get(name);
      mine.delete(name);
      if (d) ending.push(d.stop());
    }
    await Promise.all(ending);
  }

  /** Stops them all. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.bySession.keys()].map((s) => this.endSession(s)));
  }

  /** Each instance, for `status`: named `<server> (session <n>)`. */
  status(): DownstreamStatus[] {
    return [...this.bySession].flatMap(([session, mine]) => [...mine.values()].map((d) => ({ ...d.status(), name: `${d.name} (session ${session})` })));
  }
}
