// Talking to the binary over HTTP: the SDK v2 client with a bearer token, raw requests for what a client
// library would never send (no token, a foreign Origin), and a fetch that opens one connection per request
// (so a layer-4 balancer can hand consecutive calls to different replicas) and notes who answered.
import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

/** The header the gateway names its process with (src/http/server.ts). */
export const INSTANCE_HEADER = "x-claude-mpm-gateway-instance";

/** A connected SDK client over Streamable HTTP; `mode: "auto"` lands on the modern era, "legacy" pins 2025. */
export async function connectHttp(
  url: string,
  token: string | undefined,
  mode: "auto" | "legacy",
  fetchImpl?: typeof fetch,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  const client = new Client({ name: "e2e-http", version: "1.0.0" }, { versionNegotiation: { mode } });
  await client.connect(transport);
  return { client, transport };
}

/**
 * A bare JSON-RPC POST with the headers a modern client sends, plus `headers`; returns status and body. On a
 * connection of its own: a pooled keep-alive socket the server has just closed fails a POST with "fetch
 * failed" (no retry for a POST), which the tests' spawnSync calls (status under load takes seconds, the event
 * loop blocked meanwhile) make likelier; seen once in http.primary at load ~30. The cause is kept in the error.
 */
export async function rawPost(url: string, headers: Record<string, string>, body: unknown = { jsonrpc: "2.0", id: 1, method: "tools/list" }): Promise<{ status: number; text: string }> {
  const res = await freshConnectionFetch([])(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(body),
  }).catch((err: Error & { cause?: unknown }) => {
    throw new Error(`POST ${url}: ${err.message}${err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ""}`, { cause: err });
  });
  return { status: res.status, text: await res.text() };
}

/** A fetch over node:http with no connection reuse; `answeredBy` collects the instance header of each response. */
export function freshConnectionFetch(answeredBy: string[]): typeof fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    return new Promise<Response>((resolve, reject) => {
      const out = httpRequest(
        req.url,
        { method: req.method, headers: Object.fromEntries(req.headers), agent: false, signal: req.signal },
        (res) => {
          const instance = res.headers[INSTANCE_HEADER];
          if (typeof instance === "string") answeredBy.push(instance);
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) for (const x of v === undefined ? [] : [v].flat()) headers.append(k, x);
          const status = res.statusCode ?? 500;
          const empty = status === 204 || status === 304 || req.method === "HEAD";
          resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers }));
        },
      );
      out.on("error", reject);
      out.end(body);
    });
  };
}
