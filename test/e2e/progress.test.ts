// Progress through the gateway when a downstream server sends its last progress notifications and its
// result in one write: every step is written to the client before the result, in either client era. (Raw
// JSON lines: the SDK's own client drops progress that arrives in the same read as the result, as the
// gateway did on its downstream side before its line transport learned to settle between messages.)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { expectNoProcessLeft, installBinary, stopGateway, tempHome, waitFor, type Install } from "./harness.js";
import { RawSession } from "./rawSession.js";
import { writeConfig } from "./downstreamKit.js";

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "progress", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

for (const era of ["legacy", "modern"] as const) {
  test(`${era} client: all three progress steps of each call are written before its result`, async () => {
    const home = tempHome();
    writeConfig(home, { burst: { command: process.execPath, args: [resolve("test", "fixtures", "burst-server.mjs")] } });
    const session = new RawSession(install, home);
    try {
      const meta = era === "modern" ? { _meta: META } : {};
      if (era === "legacy") await session.initialize();
      else await session.request("d", "server/discover", { _meta: META });
      await waitFor("the burst server's tool", async () => {
        const list = await session.request(`l${Date.now()}`, "tools/list", meta);
        return ((list.result as { tools: Array<{ name: string }> }).tools ?? []).some((t) => t.name === "burst__go");
      }, 30_000);
      for (let i = 1; i <= 20; i++) {
        session.send({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "burst__go", arguments: {}, _meta: { ...(meta._meta ?? {}), progressToken: `t${i}` } } });
        const steps: unknown[] = [];
        for (;;) {
          const m = await session.next();
          if (m.method === "notifications/progress") steps.push((m.params as { progressToken: string; progress: number }).progress);
          else if (m.id === i) break;
        }
        assert.deepEqual(steps, [1, 2, 3], `call ${i}`);
      }
    } finally {
      session.end();
      await session.exited;
      stopGateway(install, home);
      await expectNoProcessLeft(install.bin);
    }
  });
}
