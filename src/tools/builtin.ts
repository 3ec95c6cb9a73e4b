import type { BuiltinTool } from "./types.js";
import { echoTool } from "./echo.js";
import { calculatorTool } from "./calculator.js";
import { systemInfoTool } from "./systemInfo.js";
import { healthCheckTool } from "./healthCheck.js";
import { documentSummarizerTool } from "./documentSummarizer.js";

/** The tools the gateway serves itself, in the order clients list them. */
export const builtinTools: BuiltinTool[] = [echoTool, calculatorTool, systemInfoTool, healthCheckTool, documentSummarizerTool];
