import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayError } from "../errors.js";
import { abstractAddress, type Identity } from "./identity.js";

/** Unix socket paths longer than this fail to bind on macOS (104 bytes with the terminator). */
const MAX_SOCKET_PATH = 103;

/** Where the primary listens: an address for net.listen/connect and a form for people. */
export interface EndpointAddress {
  address: string;
  display: string;
  /** A socket file the primary owns (macOS), removed at shutdown. */
  file?: string;
}

/**
 * Chooses the primary's endpoint: an abstract socket on Linux (no file, gone with its holder), a named pipe
 * on Windows, and on macOS a socket file in the 0700 state dir (or a short 0700 temp dir when that path
 * is too long for a Unix socket).
 */
export function endpointFor(id: Identity, stateDir: string, tmp: string = tmpdir()): EndpointAddress {
  const name = `claude-mpm-gateway-${id.user}-${id.dirHash}`;
  if (id.platform === "linux") return { address: abstractAddress(name), display: `@${name}` };
  if (id.platform === "win32") {
    const address = `\\\\.\\pipe\\${name}`;
    return { address, display: address };
  }
  const inState = join(stateDir, "gateway.sock");
  const file = Buffer.byteLength(inState) <= MAX_SOCKET_PATH ? inState : join(tmp, `claude-mpm-${id.user}`, `${id.dirHash}.sock`);
  return { address: file, display: file, file };
}

/** Listens on the endpoint; the caller must hold the lock, which makes removing a stale socket file safe. */
export function listenEndpoint(ep: EndpointAddress, onConnection: (socket: Socket) => void): Promise<Server> {
  if (ep.file) prepareSocketFile(ep.file);
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

function prepareSocketFile(file: string): void {
  const dir = join(file, "..");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    if (!lstatSync(file).isSocket()) {
      throw new GatewayError("STATE_DIR", `${file} exists and is not a socket: remove it`);
    }
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
