// The lazy boundary: everything that needs the MCP SDK is reached through this module, which the CLI
// loads with a dynamic import, so the bridge, --version and --status never evaluate the SDK. It only
// re-exports: the modules behind it import each other, never this one, so there is no import circle.
export { runStandalone } from "./standalone.js";
export { runPrimary } from "./primary.js";
export { runHttpServer } from "./httpServe.js";
export { Registry } from "../tools/registry.js";
export { createDownstream, createRegistry } from "./services.js";
