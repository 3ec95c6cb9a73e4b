// The floor's "primary": the least a process in the primary's place can do. It listens on a Unix socket
// file (as the gateway's primary does, in its state dir), starts the downstream servers once (stdio pipes), and
// moves bytes: connection i talks to server i mod K. A server with one connection is a plain pipe both ways;
// where connections share a server (10 clients, 1 server) answers are routed by a scan for the id, never a
// parse. Bench-only: it trusts the bench client's framing (one request per write, ids unique across clients).
// Run: node primary.mjs <socket path> '<JSON array of {command, args, env}>'
import { spawn } from "node:child_process";
import { createServer } from "node:net";

const [name, specsJson] = process.argv.slice(2);
const servers = JSON.parse(specsJson).map((s) => {
  const child = spawn(s.command, s.args, { stdio: ["pipe", "pipe", "ignore"], env: { ...process.env, ...s.env } });
  return { child, conns: [], owner: new Map(), buf: Buffer.alloc(0) };
});
let next = 0;
const NL = 10;
const ID = Buffer.from('"id":');

/** The id token after the first (`from` 0) or last `"id":` of a line, as a string key. */
function idOf(line, last) {
  const at = last ? line.lastIndexOf(ID) : line.indexOf(ID);
  if (at < 0) return undefined;
  let end = at + ID.length;
  while (end < line.length && line[end] !== 44 && line[end] !== 125) end++; // up to "," or "}"
  return line.toString("latin1", at + ID.length, end);
}

for (const s of servers) {
  s.child.stdout.on("data", (chunk) => {
    if (s.conns.length === 1) return void s.conns[0].write(chunk);
    s.buf = s.buf.length ? Buffer.concat([s.buf, chunk]) : chunk;
    let start = 0;
    for (let nl; (nl = s.buf.indexOf(NL, start)) !== -1; start = nl + 1) {
      const line = s.buf.subarray(start, nl + 1);
      const key = idOf(line, true);
      const conn = key !== undefined ? s.owner.get(key) : undefined;
      if (conn) {
        s.owner.delete(key);
        conn.write(line);
      } else for (const c of s.conns) c.write(line); // a notification: everyone's
    }
    s.buf = s.buf.subarray(start);
  });
}

createServer((conn) => {
  const s = servers[next++ % servers.length];
  s.conns.push(conn);
  conn.on("data", (chunk) => {
    if (s.conns.length > 1) {
      const key = idOf(chunk, false);
      if (key !== undefined) s.owner.set(key, conn);
    }
    s.child.stdin.write(chunk);
  });
  conn.on("close", () => s.conns.splice(s.conns.indexOf(conn), 1));
  conn.on("error", () => {});
}).listen(name);

const quit = () => {
  for (const s of servers) s.child.kill();
  process.exit(0);
};
process.on("SIGTERM", quit);
process.on("SIGINT", quit);
