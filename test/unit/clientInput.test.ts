// ClientInput: the bridge's stdin read with net.Socket's onread, against a real pipe (a FIFO). Every byte
// arrives once and in order, chunks handed out stay intact after later reads (their memory is never reused),
// pause stops reading until resume, and EOF is 'end' after the last byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientInput } from "../../src/transport/clientInput.js";

/** A FIFO: its read end for a ClientInput, its write end as a blocking descriptor for the test to fill. */
function fifo(): { rfd: number; wfd: number; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "cmg-unit-fifo-"));
  const path = join(dir, "pipe");
  execFileSync("mkfifo", [path]);
  const rfd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const wfd = openSync(path, constants.O_WRONLY);
  return { rfd, wfd, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const tick = () => new Promise((r) => setImmediate(r));
const posix = { skip: process.platform === "win32" };

test("every byte once and in order; chunks handed out stay intact while later reads land", posix, async () => {
  const p = fifo();
  const input = new ClientInput(p.rfd);
  try {
    const chunks: Buffer[] = [];
    const copies: Buffer[] = [];
    input.on("data", (c: Buffer) => {
      chunks.push(c);
      copies.push(Buffer.from(c));
    });
    const ended = new Promise<void>((r) => input.once("end", r));
    const sent: Buffer[] = [];
    // Writes of many sizes, read in between, so reads land in the rest of one slab and in new ones.
    for (let i = 0; i < 400; i++) {
      const b = Buffer.alloc(1 + ((i * 7919) % 9000), i % 251);
      sent.push(b);
      writeSync(p.wfd, b);
      if (i % 3 === 0) await tick();
    }
    closeSync(p.wfd);
    await ended;
    assert.ok(Buffer.concat(chunks).equals(Buffer.concat(sent)), "every byte once, in order");
    chunks.forEach((c, i) => assert.ok(c.equals(copies[i]!), `chunk ${i} was overwritten by a later read`));
  } finally {
    p.done();
  }
});

test("no byte is read before a 'data' listener; pause holds the bytes in the pipe until resume", posix, async () => {
  const p = fifo();
  const input = new ClientInput(p.rfd);
  try {
    writeSync(p.wfd, "one\n");
    await tick();
    const got: string[] = [];
    input.pause();
    assert.equal(input.isPaused(), true);
    input.on("data", (c: Buffer) => got.push(c.toString()));
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(got, [], "paused: nothing read");
    input.resume();
    assert.equal(input.isPaused(), false);
    while (got.join("") !== "one\n") await tick();
    input.pause();
    writeSync(p.wfd, "two\n");
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(got.join(""), "one\n", "paused again: the new bytes wait");
    const ended = new Promise<void>((r) => input.once("end", r));
    closeSync(p.wfd);
    input.resume();
    await ended;
    assert.equal(got.join(""), "one\ntwo\n");
  } finally {
    p.done();
  }
});
