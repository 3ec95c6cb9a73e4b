// Upgrade in place: a client that launches a newer release finds the primary of an older one still serving
// (Claude Desktop keeps its bridge, and so the old primary, for days). Its bridge asks that primary to hand
// over to its own program; the primary agrees only if that program, asked itself, is strictly newer.
//
// Why the bridge compares its compiled version, not its file's: a release install replaces the file under
// a running bridge, so the file may already be newer than the code running. Asking the file costs a start
// of a 100 MB binary on every bridge start; the compiled version is free, and the decision that matters is
// the primary's, made on the file's own `--version` at the moment of the handover. An old bridge whose file
// was replaced simply does not ask (its code is not newer); the next client launched from that file does.
//
// Why this never ping-pongs: the only automatic move is to a strictly newer version, checked by the primary,
// so the serving version only rises. An older bridge never asks. A bridge asks at most once per version it
// finds, so a version a user chose with `restart --exec` is not undone by the bridges already connected.
import { existsSync, statSync } from "node:fs";
import { readInstance } from "./instanceFile.js";
import { probeVersion, type Program } from "./executable.js";
import { compareSemVer, isNewer, parseSemVer } from "./semver.js";
import type { Welcome } from "./handshake.js";
import { controlRequest, type Coordinates, type PrimaryConnection } from "./client.js";
import { handoverMessage, parseProgram, type HandoverAnswer } from "./handover.js";

/** How this program's version stands to the running primary's. */
export type VersionRelation = "same" | "newer" | "older" | "unordered";

/** `binary` against `running` (semver precedence; equal text is "same" even where it does not parse). */
export function versionRelation(binary: string, running: string | undefined): VersionRelation {
  if (running === binary) return "same";
  const a = parseSemVer(binary);
  const b = running === undefined ? null : parseSemVer(running);
  if (!a || !b) return "unordered";
  return (["older", "same", "newer"] as const)[compareSemVer(a, b) + 1]!;
}

/** How often, and how far apart, a bridge asks a primary that answered busy (bounded: its client waits). */
const BUSY_ATTEMPTS = 5;
const BUSY_RETRY_MS = 400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a bridge hears back from its upgrade request (null: no primary answered). */
export type HandoverReply = HandoverAnswer;

/** How long a bridge waits for its upgrade: the handover's own bound (start, drain of calls in flight). */
const UPGRADE_TIMEOUT_MS = 60_000;

/**
 * Bridge side: asks the running primary to hand over to `program` as an upgrade, which it does only if the
 * program is newer than itself (see upgradeRefusal). A primary older than this op refuses it as unknown:
 * it stays, and is never stopped in its place (that would restart its servers, which only `restart` may).
 */
export function requestUpgrade(c: Coordinates, program: Program, timeoutMs = UPGRADE_TIMEOUT_MS): Promise<HandoverReply | null> {
  const message: { op: string; upgrade: true } = { ...handoverMessage(program), upgrade: true };
  return controlRequest<HandoverReply>(c, message, timeoutMs);
}

/**
 * Primary side, before any handover: the reason to refuse an automatic upgrade (`upgrade: true`), or
 * undefined to go on. A request without the flag (`restart`, `restart --exec`) is the user's own choice and
 * is not checked here: an explicit downgrade is allowed.
 */
export async function upgradeRefusal(msg: unknown, running: string): Promise<string | undefined> {
  const m = msg as { upgrade?: unknown; program?: unknown } | undefined;
  if (m?.upgrade !== true) return undefined;
  const program = parseProgram(m.program);
  if (!program) return "an upgrade needs the program to hand over to";
  const check = await checkUpgradeTarget(program, running);
  return check.ok ? undefined : check.error;
}

/**
 * Primary side: may an automatic upgrade (a bridge's request) hand over to `program`? Only when the program,
 * run with `--version`, is strictly newer than `running`; an explicit `restart --exec` does not ask this.
 */
export async function checkUpgradeTarget(program: Program, running: string): Promise<{ ok: true; version: string } | { ok: false; error: string }> {
  let version: string;
  try {
    version = await probeOnce(program);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  if (!isNewer(version, running)) return { ok: false, error: `${program.command} is ${version}, not newer than the running ${running}: only a newer gateway replaces a running one` };
  return { ok: true, version };
}

/** Probes in progress by program: bridges of a new release started together ask at once, and one run answers all. */
const probing = new Map<string, Promise<string>>();

function probeOnce(program: Program): Promise<string> {
  const key = JSON.stringify([program.command, ...program.args]);
  let p = probing.get(key);
  if (!p) {
    p = probeVersion(program).finally(() => probing.delete(key));
    probing.set(key, p);
  }
  return p;
}

/** A newer primary's program, and how its file looked when we learned of it (a changed file is not trusted). */
interface Remembered {
  version: string;
  program: Program;
  stamp: string;
}

const stampOf = (file: string): string | undefined => {
  try {
    const s = statSync(file);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return undefined;
  }
};

/** What the bridge's upgrade logic needs to know of its own process. */
export interface UpgradeWatchOptions {
  /** This program's compiled version. */
  version: string;
  /** The program this bridge starts a primary with (its own, with its `--config`). */
  program: Program;
  /** This bridge is the single binary (`program.args` are gateway options only, not a script). */
  isBinary: boolean;
  /** gateway.json, read for what an older primary's welcome does not say. */
  instanceFile: string;
  onLog?: (message: string) => void;
}

/** The bridge's side of upgrade in place; one per bridge, consulted at each connect to a primary. */
export class UpgradeWatch {
  /** Versions this bridge has asked to replace: at most once each. */
  private readonly asked = new Set<string>();
  private remembered?: Remembered;
  /** Set once a primary has served this bridge: only its first connect may ask (README: a version chosen by `restart --exec` is kept). */
  private connectedOnce = false;

  constructor(private readonly opts: UpgradeWatchOptions) {}

  /** The running primary's version: from its welcome, else (a primary older than this field) its gateway.json. */
  runningVersion(welcome: Welcome): string | undefined {
    if (typeof welcome.version === "string") return welcome.version;
    const r = readInstance(this.opts.instanceFile);
    return r.kind === "ok" && r.info.instance_id === welcome.instance_id ? r.info.version : undefined;
  }

  /**
   * The program to start a primary with: a newer one this installation's primary ran from, while its file is
   * unchanged (so a crash of an upgraded primary does not bring back an older one), else this bridge's own.
   */
  program(): Program {
    const r = this.remembered;
    if (r && stampOf(r.program.command) === r.stamp && isNewer(r.version, this.opts.version)) return r.program;
    return this.opts.program;
  }

  /**
   * Reaches the primary through `reach`; if it is older than this program, asks it once (per version) to hand
   * over to this program, and reaches the next one. The client's first messages wait in the bridge meanwhile,
   * so none of them is sent to a primary about to go.
   */
  async connect(reach: (program: Program) => Promise<PrimaryConnection>, ask: (program: Program) => Promise<HandoverReply | null>): Promise<PrimaryConnection> {
    const program = this.program();
    let conn: PrimaryConnection;
    try {
      conn = await reach(program);
    } catch (err) {
      if (program === this.opts.program) throw err;
      // The newer program we remembered did not start: forget it and start our own.
      this.opts.onLog?.(`could not start ${program.command} (${(err as Error).message}); starting this program instead`);
      this.remembered = undefined;
      conn = await reach(this.opts.program);
    }
    // Only the first connect asks: a reconnect (after a restart, a handover, `restart --exec <older>`) takes
    // the primary the user chose, or a bridge of a newer release would undo a deliberate downgrade at once.
    const first = !this.connectedOnce;
    this.connectedOnce = true;
    // A busy primary (just starting, or another client's handover under way) is asked again shortly: a
    // client of the new release that came a moment too early must not leave the old one serving for days.
    for (let attempt = 1; ; attempt++) {
      const running = this.runningVersion(conn.welcome);
      if (!first || running === undefined || !isNewer(this.opts.version, running) || this.asked.has(running)) break;
      conn.socket.destroy();
      const reply = await ask(this.opts.program).catch((err: Error): HandoverReply => ({ ok: false, error: err.message }));
      if (reply && !reply.ok && reply.busy && attempt < BUSY_ATTEMPTS) {
        await sleep(BUSY_RETRY_MS);
      } else {
        this.asked.add(running);
        this.opts.onLog?.(
          reply?.ok
            ? `the running gateway ${running} handed over to this program's ${this.opts.version} (pid ${reply.pid} -> ${reply.next_pid})`
            : `the running gateway ${running} stays: it did not hand over to ${this.opts.version} (${reply?.error ?? "no answer"})`,
        );
      }
      conn = await reach(this.opts.program);
    }
    return this.served(conn);
  }

  /** Notes a primary newer than this program, so a later start brings back that version, not ours. */
  private served(conn: PrimaryConnection): PrimaryConnection {
    const version = conn.welcome.version;
    if (!this.opts.isBinary || version === undefined || !isNewer(version, this.opts.version)) return conn;
    if (this.remembered?.version === version) return conn;
    const r = readInstance(this.opts.instanceFile);
    const exe = r.kind === "ok" && r.info.instance_id === conn.welcome.instance_id ? r.info.executable : undefined;
    const stamp = exe && existsSync(exe) ? stampOf(exe) : undefined;
    if (exe && stamp) this.remembered = { version, stamp, program: { command: exe, args: this.opts.program.args } };
    return conn;
  }
}
