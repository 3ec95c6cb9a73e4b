// The primary's control connections (status, stop, handover, sign-in): one JSON request line each.
import type { Socket } from "node:net";

/** A control request longer than this is not one of ours: the connection is closed. */
const MAX_REQUEST_BYTES = 4096;

/**
 * Reads the one request of a control connection and hands it to `serve` (undefined when it is not JSON).
 * One request per connection: a long one (a sign-in, a handover) must not be started again by more bytes.
 */
export function readControlRequest(socket: Socket, serve: (msg: unknown, op: unknown) => void): void {
  socket.setEncoding("utf8");
  let buf = "";
  let answered = false;
  socket.on("data", (chunk: string) => {
    if (answered) return;
    buf += chunk;
    const nl = buf.indexOf("\n");
    if (nl === -1) {
      if (buf.length > MAX_REQUEST_BYTES) socket.destroy();
      return;
    }
    answered = true;
    let msg: unknown;
    try {
      msg = JSON.parse(buf.slice(0, nl));
    } catch {
      msg = undefined;
    }
    serve(msg, (msg as { op?: unknown } | undefined)?.op);
  });
  socket.resume();
}

/** Answers a control request and ends the connection. */
export function answerControl(socket: Socket, value: unknown): void {
  socket.end(JSON.stringify(value) + "\n");
}
