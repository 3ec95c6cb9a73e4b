// Nothing left behind: the record of a primary's process groups, the watchdog that ends them when the pipe
// from its primary closes without a goodbye, and the rule that only a provably recorded process is killed.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { configureLogging } from "../../src/log.js";
import { isAlive, waitFor } from "../e2e/harness.js";
// Zombie-aware: a killed member not yet reaped by its new parent does not count as alive.
import { endGroups, groupAlive } from "../../src/downstream/processTree.js";
import { startTimeCommand, startTimeOf } from "../../src/downstream/processStart.js";
import { isOurs, ownerState, readRecord, recordPath, replicaRecordPath, replicaRecords, ServerRecord } from "../../src/downstream/serverRecord.js";
import { hostname } from "node:os";
import { bootId, pidNamespace } from "../../src/coordination/instanceFile.js";
import { runWatchdog } from "../../src/downstream/watchdog.js";
import { startShellWatchdog } from "../../src/downstream/shellWatchdog.js";

configureLogging({ level: "silent" });

/** A process in a group of its own (as servers run), with a child in that group; `deaf`: both ignore SIGTERM. */
function group(deaf = false): number {
  const ignore = deaf ? "process.on('SIGTERM', () => {});" : "";
  const child = spawn(process.execPath, ["-e", `${ignore} require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(ignore)} + 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); setInterval(() => {}, 1000)`], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  return child.pid!;
}

/** Waits (bounded) until the group's leader has started its child, so the group has two members. */
async function grown(pid: number): Promise<void> {
  await waitFor("the group's child", () => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim() !== "", 10_000);
}

/** The shell watchdog's exit, bounded. */
function exited(w: ReturnType<typeof startShellWatchdog>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("the shell watchdog did not exit")), 15_000);
    w.child.on("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

describe("server record and watchdog", () => {
  test("the record file: 0600, every group with its start time, gone on release", () => {
    const dir = mkdtempSync(join(tmpdir(), "cmg-record-"));
    const record = new ServerRecord(recordPath(dir));
    const g = record.add(process.pid, "node test")!;
    assert.equal(g.start, startTimeOf(process.pid));
    assert.equal(statSync(record.file).mode & 0o777, 0o600);
    const onDisk = readRecord(record.file)!;
    assert.deepEqual(onDisk.groups, [g]);
    assert.equal(onDisk.owner.pid, process.pid);
    record.remove(process.pid);
    assert.deepEqual(readRecord(record.file)!.groups, []);
    assert.deepEqual(record.release(), []);
    assert.equal(readRecord(record.file), undefined);
    writeFileSync(record.file, "{ not json");
    assert.equal(readRecord(record.file), undefined, "a damaged record is not trusted");
    writeFileSync(record.file, JSON.stringify({ version: 1, owner: {}, groups: [{ pid: -1, start: "x", label: "" }, { pid: 5, start: "", label: "" }] }));
    assert.deepEqual(readRecord(record.file)!.groups, [], "entries that cannot be proven are dropped");
  });

  test("a recorded group is ended only while its leader is provably the process recorded", async () => {
    const pid = group();
    await waitFor("the group's child", () => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim() !== "", 10_000);
    const start = startTimeOf(pid)!;
    assert.equal(await endGroups([{ pid, start: String(Number(start) + 1), label: "stranger" }], isOurs, 500), 0);
    assert.ok(groupAlive(pid), "another start time: not ours, untouched");
    assert.equal(await endGroups([{ pid, start, label: "ours" }], isOurs, 500), 1);
    assert.ok(!groupAlive(pid), "the leader and its child are gone");
  });

  test("the watchdog ends what it holds when the pipe closes, and nothing after a goodbye", async () => {
    const a = group();
    const b = group();
    const input = new PassThrough();
    const done = runWatchdog(input);
    input.write(JSON.stringify({ op: "add", group: { pid: a, start: startTimeOf(a), label: "a" } }) + "\n");
    input.write(JSON.stringify({ op: "add", group: { pid: b, start: startTimeOf(b), label: "b" } }) + "\n");
    input.write("garbage\n");
    input.write(JSON.stringify({ op: "remove", pid: b }) + "\n");
    input.end();
    assert.equal(await done, 0);
    assert.ok(!groupAlive(a), "held: ended");
    assert.ok(groupAlive(b), "removed from its care: left alone");

    const bye = new PassThrough();
    const calm = runWatchdog(bye);
    bye.write(JSON.stringify({ op: "add", group: { pid: b, start: startTimeOf(b), label: "b" } }) + "\n");
    bye.end(JSON.stringify({ op: "bye" }) + "\n");
    assert.equal(await calm, 0);
    assert.ok(isAlive(b), "a clean goodbye: nothing killed");
    process.kill(-b, "SIGKILL");
  });

  test("a replica's record is judged by its owner: only a provably gone owner's groups may be reaped", () => {
    const dir = mkdtempSync(join(tmpdir(), "cmg-record-"));
    const a = new ServerRecord(replicaRecordPath(dir));
    const b = new ServerRecord(replicaRecordPath(dir));
    a.add(process.pid, "a");
    b.add(process.pid, "b");
    writeFileSync(recordPath(dir), "{}");
    assert.deepEqual(replicaRecords(dir).sort(), [a.file, b.file].sort(), "one file each, the primary's not among them");
    const self = readRecord(a.file)!.owner;
    assert.deepEqual(self, { pid: process.pid, start: startTimeOf(process.pid), host: hostname(), boot: bootId(), pidns: pidNamespace() });
    assert.equal(ownerState(self), "alive");
    assert.equal(ownerState({ ...self, start: String(Number(self.start) + 1) }), "gone", "the pid now names another process");
    assert.equal(ownerState({ ...self, pid: 2 ** 30 }), "gone", "no such process");
    assert.equal(ownerState({ ...self, host: "another-host" }), "elsewhere");
    assert.equal(ownerState({ ...self, pidns: "pid:[1]" }), "elsewhere");
    assert.equal(ownerState({ ...self, boot: "another-boot" }), "rebooted");
    assert.equal(ownerState({ pid: process.pid, start: null }), "alive", "an owner that cannot be proven gone is left alone");
  });

  describe("the shell watchdog (POSIX)", { skip: process.platform === "win32" ? "POSIX only" : false }, () => {
    test("ends what it holds when the pipe closes, leaves what was removed, ignores garbage; nothing after a goodbye", async () => {
      const [a, b] = [group(), group()];
      await Promise.all([grown(a), grown(b)]);
      const w = startShellWatchdog("cmg-test");
      const done = exited(w);
      w.add({ pid: a, start: startTimeOf(a)!, label: "a" });
      w.add({ pid: b, start: startTimeOf(b)!, label: "b" });
      w.child.stdin!.write("garbage\nadd 1; touch /tmp/x 5\nadd $(id) 5\n");
      w.remove(b);
      w.abandon();
      assert.equal(await done, 0);
      assert.ok(!groupAlive(a), "held: the leader and its child ended");
      assert.ok(groupAlive(b), "removed from its care: left alone");

      const calm = startShellWatchdog("cmg-test");
      const calmDone = exited(calm);
      calm.add({ pid: b, start: startTimeOf(b)!, label: "b" });
      calm.bye();
      assert.equal(await calmDone, 0);
      assert.ok(isAlive(b), "a clean goodbye: nothing killed");
      process.kill(-b, "SIGKILL");
    });

    test("a group that ignores SIGTERM gets SIGKILL; a pid now held by a stranger (another start time) is not touched", async () => {
      const [deaf, stranger] = [group(true), group()];
      await Promise.all([grown(deaf), grown(stranger)]);
      const w = startShellWatchdog("cmg-test");
      const done = exited(w);
      w.add({ pid: deaf, start: startTimeOf(deaf)!, label: "deaf" });
      w.add({ pid: stranger, start: String(Number(startTimeOf(stranger)) + 1), label: "the process once recorded with this pid" });
      w.abandon();
      assert.equal(await done, 0);
      assert.ok(!groupAlive(deaf), "SIGTERM ignored: ended by SIGKILL");
      assert.ok(groupAlive(stranger), "not provably ours: untouched");
      process.kill(-stranger, "SIGKILL");
    });

    test("where there is no /proc (macOS), the start time is ps's lstart, compared as startTimeOf reads it", async () => {
      const [a, stranger] = [group(), group()];
      await Promise.all([grown(a), grown(stranger)]);
      const w = startShellWatchdog("cmg-test", "darwin");
      const done = exited(w);
      // startTimeOf's own macOS method, run here: what a macOS primary records.
      const start = startTimeOf(a, "darwin")!;
      assert.match(start, /\d\d:\d\d:\d\d/);
      w.add({ pid: a, start, label: "a" });
      w.add({ pid: stranger, start: "Mon Jan  1 00:00:00 2001", label: "stranger" });
      w.abandon();
      assert.equal(await done, 0);
      assert.ok(!groupAlive(a), "ended");
      assert.ok(groupAlive(stranger), "another start: untouched");
      process.kill(-stranger, "SIGKILL");
    });
  });

  test("start time on macOS and Windows comes from what the platform offers", () => {
    assert.deepEqual(startTimeCommand(42, "darwin"), ["ps", ["-o", "lstart=", "-p", "42"]]);
    const [cmd, args] = startTimeCommand(42, "win32");
    assert.equal(cmd, "powershell.exe");
    assert.match(args.at(-1)!, /Get-Process -Id 42 .*StartTime\.ToFileTimeUtc\(\)/);
    assert.equal(startTimeOf(-1), null);
    assert.equal(startTimeOf(1.5), null);
  });
});
