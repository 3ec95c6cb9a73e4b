// A legacy SDK Client connected over the gateway's line transport to a scripted server end: the test sees each
// line the client writes and answers with whatever it likes (the handshake is answered here).
import { PassThrough } from "node:stream";
import { Client, type JSONRPCMessage } from "@modelcontextprotocol/client";
import { LineTransport } from "../../src/transport/lineTransport.js";

export type Msg = Record<string, unknown>;

/** A connected client; `written`/`lines`: what it wrote after the handshake; `reached`: the messages its onmessage got. */
export async function connected() {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const written: Msg[] = [];
  const lines: string[] = [];
  const answer = (m: Msg) => toClient.write(JSON.stringify({ jsonrpc: "2.0", ...m }) + "\n");
  toServer.on("data", (d: Buffer) => {
    for (const line of d.toString("utf8").split("\n").filter(Boolean)) {
      const m = JSON.parse(line) as Msg;
      if (m.method === "initialize") answer({ id: m.id, result: { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "s", version: "1" } } });
      else if (m.method !== "notifications/initialized") {
        written.push(m);
        lines.push(line);
      }
    }
  });
  const transport = new LineTransport({ input: toClient, output: toServer, settleBetweenMessages: true });
  const client = new Client({ name: "gw", version: "1" });
  const errors: string[] = [];
  client.onerror = (e) => errors.push(e.message);
  await client.connect(transport, { prior: { kind: "legacy" } });
  const reached: JSONRPCMessage[] = [];
  const own = transport.onmessage!;
  transport.onmessage = (m, extra) => {
    reached.push(m);
    own(m, extra);
  };
  return { client, transport, written, lines, answer, errors, reached, endServer: () => toClient.end() };
}

/** One turn of the event loop (the transport hands over one message per turn). */
export const turn = () => new Promise((r) => setImmediate(r));

/** A few turns: enough for a message to be read, delivered and handled. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await turn();
}
