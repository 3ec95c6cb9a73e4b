// The bridge's stdin with fewer layers. Through process.stdin every read goes Readable.push → addChunk →
// 'data', and addChunk schedules a process.nextTick (maybeReadMore) per chunk, whose record V8 builds on a
// slow path (an object literal with computed keys): ≈ 7.6 k instructions per tick, and reading stdin this
// way saves ≈ 12 k per forwarded call in all (bench/bridgeInstr.ts). net.Socket's `onread` hands each read's bytes
// to a callback instead, with no push, no buffering and no tick; the bytes land in memory handed out here,
// never reused, so a line held across reads or written on later stays intact.
import { EventEmitter } from "node:events";
import { fstatSync } from "node:fs";
import { Socket } from "node:net";
import type { Readable } from "node:stream";

/** What the bridge reads its client from: a Readable, or a ClientInput. */
export interface LineInput {
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  once(event: "end", listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
}

/** Memory for reads is cut from slabs of this size; a tail smaller than MIN_READ is left unused. */
const SLAB = 64 * 1024;
const MIN_READ = 8 * 1024;

/** A pipe or socket descriptor read with `onread`: 'data' per read, 'end' at EOF, pause/resume as a Readable's. */
export class ClientInput extends EventEmitter implements LineInput {
  private readonly socket: Socket;
  /** Where the next read lands: the unread tail of the current slab. */
  private next: Buffer = Buffer.allocUnsafeSlow(SLAB);
  private paused = false;
  private started = false;

  constructor(fd: number) {
    super();
    this.socket = new Socket({
      fd,
      readable: true,
      writable: false,
      onread: { buffer: () => this.next, callback: (n: number, buf: Uint8Array) => this.onRead(n, buf as Buffer) },
    });
    // Reading starts with the first 'data' listener, as a Readable's does: no byte is read with none there.
    // (The socket started reading as it was made; nothing can have arrived before this line runs.)
    this.socket.pause();
    // Errors are not caught here: as on process.stdin, a read error nobody handles ends the process.
    this.socket.once("end", () => this.emit("end"));
    this.on("newListener", (event: string) => {
      if (event !== "data" || this.started) return;
      this.started = true;
      // Flowing, so the socket also reports EOF ('end'); its own 'data' never fires with onread.
      if (!this.paused) this.socket.resume();
    });
  }

  /** One read's bytes; true: keep reading (pausing is pause()'s, which stops the handle itself). */
  private onRead(n: number, buf: Buffer): boolean {
    // The next read gets the rest of this memory, or a new slab: bytes already handed out are never overwritten.
    this.next = buf.length - n >= MIN_READ ? buf.subarray(n) : Buffer.allocUnsafeSlow(SLAB);
    this.emit("data", buf.subarray(0, n));
    return true;
  }

  pause(): this {
    this.paused = true;
    this.socket.pause();
    return this;
  }

  resume(): this {
    this.paused = false;
    if (this.started) this.socket.resume();
    return this;
  }

  isPaused(): boolean {
    return this.paused;
  }
}

/**
 * stdin for the bridge: a ClientInput when it is a pipe or socket on a POSIX system (what an MCP client gives
 * its server), else process.stdin (a terminal, a file, Windows). Decided before anything touches process.stdin,
 * which would open a second handle on descriptor 0.
 */
export function bridgeStdin(): LineInput {
  if (process.platform !== "win32") {
    try {
      const st = fstatSync(0);
      if (st.isFIFO() || st.isSocket()) return new ClientInput(0);
    } catch {
      // no stdin at all: process.stdin says so its own way
    }
  }
  return process.stdin as Readable;
}
