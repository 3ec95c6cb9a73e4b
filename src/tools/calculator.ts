import * as z from "zod";
import { defineTool, errorResult, textResult } from "./types.js";

const OPERATIONS = ["add", "subtract", "multiply", "divide"] as const;
type Operation = (typeof OPERATIONS)[number];

const SYMBOLS: Record<Operation, string> = { add: "+", subtract: "-", multiply: "*", divide: "/" };

function apply(operation: Operation, a: number, b: number): number {
  switch (operation) {
    case "add":
      return a + b;
    case "subtract":
      return a - b;
    case "multiply":
      return a * b;
    case "divide":
      return a / b;
  }
}

// String(-0) is "0", which would print "0 * -1 = 0" while `result` held -0: normalise so the text and
// the structured value agree.
function normalise(n: number): number {
  return Object.is(n, -0) ? 0 : n;
}

/** Adds, subtracts, multiplies or divides two finite numbers. */
export const calculatorTool = defineTool({
  name: "calculator",
  title: "Calculator",
  description:
    "Performs one arithmetic operation (add, subtract, multiply or divide) on two numbers and returns the " +
    "result as a number plus the expression, e.g. `6 * 7 = 42`. Division by zero and overflow are reported as errors.",
  // z.number() in zod 4 rejects NaN and ±Infinity, so every operand that reaches run() is finite.
  inputSchema: {
    operation: z.enum(OPERATIONS).describe("The operation: add (a + b), subtract (a - b), multiply (a * b) or divide (a / b)."),
    a: z.number().describe("The left operand, a finite number."),
    b: z.number().describe("The right operand, a finite number (not zero when dividing)."),
  },
  outputSchema: {
    result: z.number().describe("The numeric result."),
    expression: z.string().describe('The expression that was evaluated, e.g. "6 * 7".'),
  },
  annotations: {
    readOnlyHint: true,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  },
  async run({ operation, a, b }) {
    const expression = `${a} ${SYMBOLS[operation]} ${b}`;
    if (operation === "divide" && b === 0) {
      return errorResult(`Division by zero: ${expression} is undefined. Use a non-zero divisor.`);
    }
    const result = normalise(apply(operation, a, b));
    // Finite operands can still overflow (1e308 * 10); JSON would turn Infinity into null, so refuse it.
    if (!Number.isFinite(result)) {
      return errorResult(`Result out of range: ${expression} exceeds the largest representable number (about 1.8e308).`);
    }
    return textResult(`${expression} = ${result}`, { result, expression });
  },
});
