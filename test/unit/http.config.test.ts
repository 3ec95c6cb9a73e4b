// The `http` key of config.json: the primary's HTTP endpoint, off unless asked for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/downstream/config.js";
import { isGatewayError } from "../../src/errors.js";

test("absent: no endpoint; { port: N } and port 0 (any free port) are kept", () => {
  assert.equal(parseConfig({ mcpServers: {} }, "c.json").http, undefined);
  assert.deepEqual(parseConfig({ http: { port: 8765 } }, "c.json").http, { port: 8765 });
  assert.deepEqual(parseConfig({ mcpServers: {}, http: { port: 0 } }, "c.json").http, { port: 0 });
});

test("a bad http key names the file, the JSON path and the shape expected", () => {
  for (const [http, where] of [
    [{ port: "8080" }, "$.http.port"],
    [{ port: 70000 }, "$.http.port"],
    [{ port: 1.5 }, "$.http.port"],
    [{ port: 1, host: "0.0.0.0" }, "$.http"],
    [8080, "$.http"],
  ] as const) {
    assert.throws(
      () => parseConfig({ http }, "/x/config.json"),
      (e) => isGatewayError(e, "CONFIG_INVALID") && e.message.startsWith(`/x/config.json: ${where}: `) && e.message.includes('"http": { "port": 8080 }'),
      JSON.stringify(http),
    );
  }
});
