// The primary's open sessions, each with its socket, its view (for status) and whether its bridge moves to
// the next primary when told (a handover).
import type { Socket } from "node:net";
import type { SessionHandle } from "./session.js";
import type { SessionView } from "../profiles/sessionView.js";
import { MOVE_NOTICE } from "./bridge.js";

interface Entry {
  socket: Socket;
  view: SessionView;
  moves: boolean;
}

/** The sessions one primary serves. */
export class SessionTable {
  private readonly entries = new Map<SessionHandle, Entry>();

  get size(): number {
    return this.entries.size;
  }

  add(session: SessionHandle, socket: Socket, view: SessionView, moves: boolean): void {
    this.entries.set(session, { socket, view, moves });
  }

  remove(session: SessionHandle): void {
    this.entries.delete(session);
  }

  /** Each session's view, for status. */
  views(): SessionView[] {
    return [...this.entries.values()].map((e) => e.view);
  }

  /** Tells every bridge that moves to do so (it finishes its calls here first); returns how many were told. */
  move(): number {
    const notice = `${JSON.stringify({ jsonrpc: "2.0", method: MOVE_NOTICE })}\n`;
    let told = 0;
    for (const e of this.entries.values()) {
      if (!e.moves) continue;
      e.socket.write(notice);
      told++;
    }
    return told;
  }

  /** Sessions whose bridge moves that are still connected. */
  get moving(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.moves) n++;
    return n;
  }

  /** Stops (or starts again) reading every session's requests. */
  pause(paused: boolean): void {
    for (const e of this.entries.values()) {
      if (paused) e.socket.pause();
      else e.socket.resume();
    }
  }

  /** Closes every session, one after the other. */
  async closeAll(): Promise<void> {
    for (const s of [...this.entries.keys()]) await s.close();
  }
}
