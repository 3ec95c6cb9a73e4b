// The bridge's upgrade decision: ask an older primary to hand over to this program, at most once per version
// it finds, never a newer or equal one; and start a newer release's program after a loss, while it is there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PrimaryConnection } from "../../src/coordination/client.js";
import type { Program } from "../../src/coordination/executable.js";
import { writeInstance, type InstanceInfo } from "../../src/coordination/instanceFile.js";
import { UpgradeWatch, upgradeRefusal, versionRelation, type HandoverReply } from "../../src/coordination/upgrade.js";
import { versionNote } from "../../src/cli/status.js";

const OWN: Program = { command: "/opt/new/claude-mpm-gateway", args: ["--config", "/c.json"] };

/** A fake installation: primaries with versions, a log of what the watch did. */
function world(primaries: Array<{ version?: string; id: string }>, replies: HandoverReply | null | Error | Array<HandoverReply | null | Error> = { ok: true, pid: 1, next_pid: 2, handed_over: [], restarted: [] }) {
  const dir = mkdtempSync(join(tmpdir(), "cmg-upg-"));
  const instanceFile = join(dir, "gateway.json");
  const reached: Program[] = [];
  const asked: Program[] = [];
  const closed: string[] = [];
  let n = 0;
  const reach = async (program: Program): Promise<PrimaryConnection> => {
    reached.push(program);
    const p = primaries[Math.min(n++, primaries.length - 1)]!;
    const socket = new Socket();
    socket.destroy = () => {
      closed.push(p.id);
      return socket;
    };
    return { socket, welcome: { ok: true, pid: 1, instance_id: p.id, ...(p.version ? { version: p.version } : {}) } };
  };
  const ask = async (program: Program) => {
    asked.push(program);
    const reply = Array.isArray(replies) ? replies[Math.min(asked.length - 1, replies.length - 1)]! : replies;
    if (reply instanceof Error) throw reply;
    return reply;
  };
  const logs: string[] = [];
  const watch = (version = "0.2.0", isBinary = true) => new UpgradeWatch({ version, program: OWN, isBinary, instanceFile, onLog: (m) => logs.push(m) });
  return { dir, instanceFile, reach, ask, reached, asked, closed, logs, watch };
}

function record(file: string, fields: Partial<InstanceInfo>): void {
  writeInstance(file, { pid: 1, gateway_name: "claude-mpm-gateway", version: "0.0.0", started_at: "", instance_id: "", host: "", endpoint: "", process_start_time: null, executable: "", config_path: "", log_path: "", state_dir: "", ...fields });
}

test("an older primary is asked once to hand over to this program; the session goes to the next primary", async () => {
  const w = world([{ version: "0.1.0", id: "a" }, { version: "0.2.0", id: "b" }]);
  const watch = w.watch();
  const conn = await watch.connect(w.reach, w.ask);
  assert.equal(conn.welcome.instance_id, "b");
  assert.deepEqual(w.asked, [OWN]);
  assert.deepEqual(w.closed, ["a"], "no client message is sent to the primary about to go");
  assert.match(w.logs[0]!, /the running gateway 0\.1\.0 handed over to this program's 0\.2\.0 \(pid 1 -> 2\)/);
});

test("at most once per version found: a refused upgrade is not asked again, nor after a restart into that version", async () => {
  const w = world([{ version: "0.1.0", id: "a" }, { version: "0.1.0", id: "a" }, { version: "0.1.0", id: "c" }], { ok: false, error: "no" });
  const watch = w.watch();
  assert.equal((await watch.connect(w.reach, w.ask)).welcome.instance_id, "a");
  assert.equal((await watch.connect(w.reach, w.ask)).welcome.instance_id, "c");
  assert.equal(w.asked.length, 1);
  assert.match(w.logs[0]!, /the running gateway 0\.1\.0 stays: it did not hand over to 0\.2\.0 \(no\)/);
});

test("an equal, newer or unorderable primary is never asked; neither when the request itself fails", async () => {
  for (const version of ["0.2.0", "0.3.0", "0.2.0-rc.1+x", "banana", undefined]) {
    const w = world([{ version, id: "a" }]);
    await w.watch("0.2.0").connect(w.reach, w.ask);
    assert.deepEqual(w.asked, version === "0.2.0-rc.1+x" ? [OWN] : [], String(version));
  }
  const failing = world([{ version: "0.1.0", id: "a" }, { version: "0.1.0", id: "a" }], new Error("boom"));
  assert.equal((await failing.watch().connect(failing.reach, failing.ask)).welcome.instance_id, "a");
  assert.match(failing.logs[0]!, /did not hand over to 0\.2\.0 \(boom\)/);
});

test("a primary whose welcome has no version (older releases) is known by its gateway.json, if it is that instance", async () => {
  const w = world([{ id: "a" }, { id: "b" }]);
  record(w.instanceFile, { instance_id: "a", version: "0.1.0" });
  await w.watch().connect(w.reach, w.ask);
  assert.equal(w.asked.length, 1);
  const other = world([{ id: "a" }]);
  record(other.instanceFile, { instance_id: "someone-else", version: "0.1.0" });
  await other.watch().connect(other.reach, other.ask);
  assert.equal(other.asked.length, 0);
});

test("served by a newer release, a later start uses its program while its file is unchanged", async () => {
  const w = world([{ version: "0.3.0", id: "a" }, { version: "0.3.0", id: "b" }]);
  const exe = join(w.dir, "newer-gateway");
  writeFileSync(exe, "#!/bin/sh\n");
  chmodSync(exe, 0o755);
  record(w.instanceFile, { instance_id: "a", version: "0.3.0", executable: exe });
  const watch = w.watch();
  assert.deepEqual(watch.program(), OWN);
  await watch.connect(w.reach, w.ask);
  assert.deepEqual(watch.program(), { command: exe, args: OWN.args });
  await watch.connect(w.reach, w.ask);
  assert.deepEqual(w.reached, [OWN, { command: exe, args: OWN.args }]);
  // Replaced (another install, an older one maybe): not trusted any more.
  writeFileSync(exe, "#!/bin/sh\n# another\n");
  assert.deepEqual(watch.program(), OWN);
  // A source run (node + script) never swaps its program for a binary's.
  const src = world([{ version: "0.3.0", id: "a" }]);
  record(src.instanceFile, { instance_id: "a", version: "0.3.0", executable: exe });
  const fromSource = src.watch("0.2.0", false);
  await fromSource.connect(src.reach, src.ask);
  assert.deepEqual(fromSource.program(), OWN);
});

test("a remembered newer program that fails to start is dropped for this program's own", async () => {
  const w = world([{ version: "0.3.0", id: "a" }, { version: "0.2.0", id: "b" }]);
  const exe = join(w.dir, "newer-gateway");
  writeFileSync(exe, "");
  record(w.instanceFile, { instance_id: "a", version: "0.3.0", executable: exe });
  const watch = w.watch();
  await watch.connect(w.reach, w.ask);
  let calls = 0;
  const conn = await watch.connect(async (p) => {
    calls++;
    if (p.command === exe) throw new Error("exited at start");
    return w.reach(p);
  }, w.ask);
  assert.equal(calls, 2);
  assert.equal(conn.welcome.instance_id, "b");
  assert.deepEqual(watch.program(), OWN);
});

test("the primary refuses an upgrade request without a program; a request without `upgrade` is not checked", async () => {
  assert.equal(await upgradeRefusal({ op: "handover", program: { command: "/x", args: [] } }, "0.1.0"), undefined);
  assert.equal(await upgradeRefusal({ op: "handover", upgrade: true }, "0.1.0"), "an upgrade needs the program to hand over to");
  assert.equal(await upgradeRefusal({ op: "handover", upgrade: true, program: { command: "/x", args: ["--primary"] } }, "0.1.0"), "an upgrade needs the program to hand over to");
});

test("versionRelation: this binary against the running one", () => {
  assert.equal(versionRelation("0.2.0", "0.2.0"), "same");
  assert.equal(versionRelation("0.2.0", "0.1.0"), "newer");
  assert.equal(versionRelation("0.2.0-rc.1", "0.2.0"), "older");
  assert.equal(versionRelation("0.0.0-dev", "0.0.0-dev"), "same");
  assert.equal(versionRelation("0.2.0", "x"), "unordered");
  assert.equal(versionRelation("0.2.0", undefined), "unordered");
});

test("an upgrade is granted only to a program that says it is newer; requests arriving together run it once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cmg-upg-"));
  const runs = join(dir, "runs");
  const fake = (version: string) => {
    const file = join(dir, `gateway-${version}`);
    writeFileSync(file, `#!/bin/sh\necho run >> '${runs}'\necho ${version}\n`);
    chmodSync(file, 0o755);
    return { command: file, args: [] };
  };
  const newer = fake("0.2.0");
  const refusals = await Promise.all([1, 2, 3, 4].map(() => upgradeRefusal({ op: "handover", upgrade: true, program: newer }, "0.1.0")));
  assert.deepEqual(refusals, [undefined, undefined, undefined, undefined]);
  assert.equal(readFileSync(runs, "utf8"), "run\n");
  const same = fake("0.1.0");
  assert.equal(await upgradeRefusal({ op: "handover", upgrade: true, program: same }, "0.1.0"), `${same.command} is 0.1.0, not newer than the running 0.1.0: only a newer gateway replaces a running one`);
  const rc = fake("0.2.0-rc.1");
  assert.match((await upgradeRefusal({ op: "handover", upgrade: true, program: rc }, "0.2.0"))!, /is 0\.2\.0-rc\.1, not newer than the running 0\.2\.0/);
});

test("status's note: which binary is newer, and whether a client upgrades by itself on this platform", () => {
  const self = { version: "0.2.0", path: "/opt/gw dir/claude-mpm-gateway" };
  assert.equal(versionNote("0.2.0", self), undefined);
  assert.equal(
    versionNote("0.1.0", self, "/c.json"),
    "this binary (0.2.0) is newer than the running gateway (0.1.0): the next client started from it upgrades the gateway in place (sessions and servers kept); to upgrade now: '/opt/gw dir/claude-mpm-gateway' restart --config /c.json",
  );
  assert.equal(
    versionNote("0.1.0", self, undefined, false),
    "this binary (0.2.0) is newer than the running gateway (0.1.0), which stays until its clients are gone (here an upgrade restarts every server); to upgrade now (servers restarted, sessions kept): '/opt/gw dir/claude-mpm-gateway' restart",
  );
  assert.equal(versionNote("0.3.0", self), "this binary (0.2.0) is older than the running gateway (0.3.0), which stays: an older binary never replaces a newer gateway");
  assert.equal(versionNote("dev", self), "this binary (0.2.0) is not the running gateway's version (dev)");
});

test("a busy primary (starting, another handover under way) is asked again, a bounded number of times", async () => {
  const busy: HandoverReply = { ok: false, pid: 1, error: "the primary is still starting; try again", busy: true };
  const done: HandoverReply = { ok: true, pid: 1, next_pid: 2, handed_over: [], restarted: [] };
  const w = world([{ version: "0.1.0", id: "a" }, { version: "0.1.0", id: "a" }, { version: "0.2.0", id: "b" }], [busy, done]);
  assert.equal((await w.watch().connect(w.reach, w.ask)).welcome.instance_id, "b");
  assert.equal(w.asked.length, 2);
  assert.deepEqual(w.logs, ["the running gateway 0.1.0 handed over to this program's 0.2.0 (pid 1 -> 2)"]);
  const stuck = world([{ version: "0.1.0", id: "a" }], busy);
  const watch = stuck.watch();
  assert.equal((await watch.connect(stuck.reach, stuck.ask)).welcome.instance_id, "a");
  assert.equal(stuck.asked.length, 5);
  assert.match(stuck.logs[0]!, /stays: it did not hand over to 0\.2\.0 \(the primary is still starting; try again\)/);
  await watch.connect(stuck.reach, stuck.ask);
  assert.equal(stuck.asked.length, 5, "and then not again for that version");
});

