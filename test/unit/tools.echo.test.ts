import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { text, toolUnderTest } from "./toolKit.js";

const { registry, call } = toolUnderTest("echo");

describe("echo", () => {
  test("is listed first with a JSON Schema that requires only message", () => {
    const tools = registry.list();
    assert.deepEqual(
      tools.map((t) => t.name),
      ["echo", "calculator", "system_info", "health_check", "document_summarizer"],
    );
    const echo = tools[0];
    assert.equal(echo?.inputSchema.type, "object");
    assert.deepEqual(echo?.inputSchema.required, ["message"]);
    assert.deepEqual(Object.keys(echo?.inputSchema.properties ?? {}).sort(), ["message", "uppercase"]);
    assert.equal(echo?.annotations?.readOnlyHint, true);
    assert.equal(echo?.annotations?.destructiveHint, false);
  });

  test("returns the message unchanged, whitespace and Unicode included", async () => {
    const message = "  héllo, wörld ✓\nsecond line  ";
    const result = await call({ message });
    assert.equal(result.isError, undefined);
    assert.equal(text(result), message);
  });

  test("uppercases when asked, and only then", async () => {
    assert.equal(text(await call({ message: "Hello, World", uppercase: true })), "HELLO, WORLD");
    assert.equal(text(await call({ message: "Hello, World", uppercase: false })), "Hello, World");
  });

  test("echoes an empty message", async () => {
    const result = await call({ message: "" });
    assert.equal(result.isError, undefined);
    assert.equal(text(result), "");
  });

  test("rejects a missing message", async () => {
    const result = await call({});
    assert.equal(result.isError, true);
    assert.match(text(result), /^Invalid arguments for echo: message:/);
  });

  test("rejects wrong types", async () => {
    const notString = await call({ message: 42 });
    assert.equal(notString.isError, true);
    assert.match(text(notString), /message: .*string/i);
    const notBoolean = await call({ message: "hi", uppercase: "yes" });
    assert.equal(notBoolean.isError, true);
    assert.match(text(notBoolean), /uppercase: .*boolean/i);
  });

  test("rejects an unknown extra argument by name", async () => {
    const result = await call({ message: "hi", loud: true });
    assert.equal(result.isError, true);
    assert.match(text(result), /Unrecognized key: "loud"/);
  });

  test("rejects a message over 100,000 characters", async () => {
    const result = await call({ message: "x".repeat(100_001) });
    assert.equal(result.isError, true);
    assert.match(text(result), /message:/);
    assert.equal((await call({ message: "x".repeat(100_000) })).isError, undefined);
  });
});
