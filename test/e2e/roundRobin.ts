// A round-robin TCP forwarder for the replica tests: what a plain layer-4 load balancer does, and no more.
// Each incoming connection goes to the next backend in turn; a backend that refuses the connection is
// skipped (as a balancer's passive health check would), so a killed replica costs no request.
import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";

/** A listening forwarder. */
export interface Forwarder {
  port: number;
  /** Connections handed to each backend (by index), refused ones not counted. */
  counts: number[];
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:<port> to the given 127.0.0.1 backend ports in turn. */
export async function roundRobin(backends: number[]): Promise<Forwarder> {
  const counts = backends.map(() => 0);
  const open = new Set<Socket>();
  let next = 0;

  const connect = (client: Socket, tries: number): void => {
    if (tries === backends.length) {
      client.destroy();
      return;
    }
    const index = next++ % backends.length;
    const upstream = createConnection({ host: "127.0.0.1", port: backends[index]! });
    let connected = false;
    open.add(upstream);
    upstream.once("close", () => open.delete(upstream));
    upstream.once("error", () => {
      // Refused before it was counted: try the next backend. Lost later: the client sees its connection end.
      if (!connected) connect(client, tries + 1);
      else client.destroy();
    });
    upstream.once("connect", () => {
      connected = true;
      counts[index]!++;
      client.pipe(upstream).pipe(client);
      client.resume();
      client.once("close", () => upstream.destroy());
      upstream.once("close", () => client.destroy());
    });
  };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.once("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    connect(client, 0);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    counts,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}
