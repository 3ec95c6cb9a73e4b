import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * The web `Request` for a Node request, its body streamed (not buffered here: the SDK bounds it). Its
 * signal aborts when the client's connection goes, which MCP 2026-07-28 makes the cancellation of the
 * request (Streamable HTTP, "Cancellation").
 */
export function toWebRequest(req: IncomingMessage, res: ServerResponse): Request {
  const abort = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, {
    method,
    headers,
    signal: abort.signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {}),
  } as RequestInit);
}

/**
 * Writes a web `Response` to a Node response, streaming its body with backpressure; a client that goes
 * away cancels the body (and so the SDK's side of an SSE stream).
 */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  // An SSE stream through nginx must not be buffered (Streamable HTTP 2026-07-28, "Receiving Messages").
  const stream = headers["content-type"]?.startsWith("text/event-stream") === true;
  if (stream) headers["x-accel-buffering"] = "no";
  res.writeHead(response.status, headers);
  // Node holds headers back until the first body write: a quiet stream (a legacy client's GET, a listen with
  // nothing to say yet) would leave its client waiting for a response until the first event or keep-alive
  // (15 s), not knowing the stream is open. The stream is registered by now: say so at once.
  if (stream) res.flushHeaders();
  if (!response.body) {
    res.end();
    return;
  }
  try {
    await pipeline(Readable.fromWeb(response.body as Parameters<typeof Readable.fromWeb>[0]), res);
  } catch {
    // The client went away mid-stream: nothing left to answer.
  }
}
