import * as z from "zod";
import { defineTool, textResult } from "./types.js";

// Large enough for any sensible round-trip test, small enough that a runaway client cannot make the
// gateway hold and re-send megabytes through every session's transport.
const MAX_MESSAGE_CHARS = 100_000;

/** Returns the message it is given: the smallest possible proof that a session reaches the gateway. */
export const echoTool = defineTool({
  name: "echo",
  title: "Echo",
  description:
    "Returns the given message unchanged (or in upper case when `uppercase` is true). " +
    "Use it to check that the gateway is reachable and passes text through intact.",
  inputSchema: {
    message: z
      .string()
      .max(MAX_MESSAGE_CHARS)
      .describe(`The text to send back, at most ${MAX_MESSAGE_CHARS} characters.`),
    uppercase: z.boolean().optional().describe("When true, the message comes back in upper case. Default false."),
  },
  annotations: {
    readOnlyHint: true,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  },
  async run({ message, uppercase }) {
    // Locale-independent on purpose: the same call must give the same answer on every machine
    // (toLocaleUpperCase would turn "i" into "İ" under a Turkish locale).
    return textResult(uppercase ? message.toUpperCase() : message);
  },
});
