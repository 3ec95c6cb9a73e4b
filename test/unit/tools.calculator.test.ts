import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { structured, text, toolUnderTest } from "./toolKit.js";

const { registry, call } = toolUnderTest("calculator");


async function expectError(args: Record<string, unknown>, pattern: RegExp): Promise<void> {
  const result = await call(args);
  assert.equal(result.isError, true, `expected an error for ${JSON.stringify(args)}`);
  assert.equal(result.structuredContent, undefined);
  assert.match(text(result), pattern);
}

describe("calculator", () => {
  test("lists a JSON Schema with the three required fields, the operation enum and an output schema", () => {
    const tool = registry.list().find((t) => t.name === "calculator");
    assert.ok(tool);
    assert.deepEqual([...(tool.inputSchema.required ?? [])].sort(), ["a", "b", "operation"]);
    const props = tool.inputSchema.properties as Record<string, { enum?: string[]; type?: string }>;
    assert.deepEqual(props.operation?.enum, ["add", "subtract", "multiply", "divide"]);
    assert.equal(props.a?.type, "number");
    assert.deepEqual(Object.keys(tool.outputSchema?.properties ?? {}).sort(), ["expression", "result"]);
  });

  const cases: [string, number, number, number, string][] = [
    ["add", 2, 3, 5, "2 + 3"],
    ["subtract", 2, 5, -3, "2 - 5"],
    ["multiply", 6, 7, 42, "6 * 7"],
    ["divide", 7, 2, 3.5, "7 / 2"],
    ["add", -1.5, 0.25, -1.25, "-1.5 + 0.25"],
  ];
  for (const [operation, a, b, expected, expression] of cases) {
    test(`${operation} ${a}, ${b} gives ${expected} as text and structured content`, async () => {
      const result = await call({ operation, a, b });
      assert.equal(result.isError, undefined);
      assert.deepEqual(result.structuredContent, { result: expected, expression });
      assert.equal(text(result), `${expression} = ${expected}`);
    });
  }

  test("a negative zero result prints and returns as 0", async () => {
    const result = await call({ operation: "multiply", a: 0, b: -1 });
    assert.equal(text(result), "0 * -1 = 0");
    assert.ok(Object.is(structured(result).result, 0));
  });

  test("division by zero is an error, not Infinity", async () => {
    await expectError({ operation: "divide", a: 1, b: 0 }, /^Division by zero: 1 \/ 0/);
    await expectError({ operation: "divide", a: 0, b: 0 }, /^Division by zero/);
  });

  test("an overflow to Infinity is an error", async () => {
    await expectError({ operation: "multiply", a: 1e308, b: 10 }, /out of range/);
    await expectError({ operation: "subtract", a: -1.7e308, b: 1.7e308 }, /out of range/);
  });

  test("non-finite operands are rejected by the schema", async () => {
    await expectError({ operation: "add", a: Infinity, b: 1 }, /^Invalid arguments for calculator: a:/);
    await expectError({ operation: "add", a: 1, b: -Infinity }, /b:/);
    await expectError({ operation: "add", a: NaN, b: 1 }, /a:/);
  });

  test("wrong types are rejected", async () => {
    await expectError({ operation: "add", a: "6", b: 7 }, /a: .*number/i);
    await expectError({ operation: "modulo", a: 6, b: 7 }, /operation:/);
    await expectError({ operation: 1, a: 6, b: 7 }, /operation:/);
  });

  test("missing required arguments are named", async () => {
    await expectError({ operation: "add", a: 1 }, /b:/);
    await expectError({ a: 1, b: 2 }, /operation:/);
  });

  test("an unknown extra argument is rejected", async () => {
    await expectError({ operation: "add", a: 1, b: 2, c: 3 }, /Unrecognized key: "c"/);
  });
});
