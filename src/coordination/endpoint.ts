import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { GatewayError } from "../errors.js";
import type { HeldLock } from "./lock.js";
import type { EndpointAddress } from "./plan.js";
import { ensurePrivateDir } from "./socketDir.js";

export type { EndpointAddress } from "./plan.js";

/**
 * Serves connections on the endpoint. On Linux the lock's listening socket is the endpoint; elsewhere a
 * server is bound, which is safe because the caller holds the lock (a stale socket file is ours to remove).
 */
export function listenEndpoint(ep: EndpointAddress, onConnection: (socket: Socket) => void, lock?: HeldLock): Promise<Server> {
  if (ep.viaLock && lock?.server) {
    const server = lock.server;
    // Connections that came in before now were answered by the lock's probe handler (closed at once).
    server.removeAllListeners("connection");
    server.on("connection", onConnection);
    server.ref();
    return Promise.resolve(server);
  }
  if (ep.file) prepareSocketFile(ep);
  return new Promise((resolve, reject) => {
    const server = createServer(onConnection);
    server.once("error", (err) =>
      reject(new GatewayError("STATE_DIR", `cannot listen on ${ep.display}: ${err.message}`, { cause: err })),
    );
    server.listen(ep.address, () => {
      if (ep.file) chmodSync(ep.file, 0o600);
      resolve(server);
    });
  });
}

/** Connects to the endpoint, failing after `timeoutMs`. */
export function connectEndpoint(ep: EndpointAddress, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(ep.address);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect to ${ep.display} timed out`), { code: "ETIMEDOUT" }));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Removes the socket file if it exists, never anything that is not a socket. */
export function removeSocketFile(file: string): void {
  try {
    if (lstatSync(file).isSocket()) unlinkSync(file);
  } catch {
    // already gone
  }
}

function prepareSocketFile(ep: EndpointAddress): void {
  const file = ep.file!;
  if (ep.privateDir && typeof process.getuid === "function") ensurePrivateDir(ep.privateDir, process.getuid());
  try {
    if (!lstatSync(file).isSocket()) {
      throw new GatewayError("STATE_DIR", `${file} exists and is not a socket: remove it`);
    }
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
