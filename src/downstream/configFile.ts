// Read-modify-write of the gateway's config.json for the CLI's server commands. The running primary reads
// the same file (hot reload), so every write is atomic and every write is validated before it lands.
import { lstatSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { writeFileAtomic } from "../coordination/atomicWrite.js";
import type { StatePaths } from "../coordination/paths.js";
import { ensureStateDir } from "../coordination/stateDir.js";
import { GatewayError } from "../errors.js";
import { parseConfig, type GatewayConfig } from "./config.js";

/** config.json as found on disk: the raw object (unknown keys kept) and its validated reading. */
export interface ConfigDocument {
  file: string;
  exists: boolean;
  /** The file's top-level object as written by the user; `mcpServers` is always an object here. */
  raw: Record<string, unknown> & { mcpServers: Record<string, unknown> };
  config: GatewayConfig;
  /** The exact text read, to notice a concurrent writer before replacing the file. */
  text: string | undefined;
}

/** Reads and validates config.json, keeping its raw form; a missing or empty file is an empty config. */
export function readConfigDocument(file: string): ConfigDocument {
  let text: string | undefined;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new GatewayError("CONFIG_INVALID", `${file}: cannot be read (${(err as Error).message})`, { cause: err });
    }
  }
  if (text === undefined || !text.trim()) {
    return { file, exists: text !== undefined, raw: { mcpServers: {} }, config: { mcpServers: {}, profiles: {} }, text };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new GatewayError("CONFIG_INVALID", `${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const config = parseConfig(value, file);
  const obj = value as Record<string, unknown>;
  const servers = (obj.mcpServers ?? {}) as Record<string, unknown>;
  return { file, exists: true, raw: { ...obj, mcpServers: { ...servers } }, config, text };
}

/**
 * Applies `change` to the raw `mcpServers` of config.json and writes the result atomically (0600), after
 * validating it. Returns what `change` returned. A malformed existing file is reported and never replaced.
 */
export function updateConfigFile<T>(paths: StatePaths, change: (servers: Record<string, unknown>, doc: ConfigDocument) => T): T {
  const file = writableTarget(paths.configFile);
  // Two CLI commands racing would otherwise drop one's edit: re-read just before writing and redo the change
  // when someone else wrote in between. Not a lock, but it shrinks the window to the rename itself.
  for (let attempt = 0; attempt < 5; attempt++) {
    const doc = untouched(() => readConfigDocument(file));
    const before = JSON.stringify(doc.raw);
    const result = change(doc.raw.mcpServers, doc);
    const next = { ...doc.raw };
    // Nothing changed (a refused add, an absent remove): leave the file, and its formatting, as it is.
    if (JSON.stringify(next) === before) return result;
    parseConfig(next, file); // the safety net: never write what the gateway would refuse to load
    prepareDir(paths, file);
    if (readConfigDocument(file).text !== doc.text) continue;
    try {
      writeFileAtomic(file, JSON.stringify(next, null, 2) + "\n", 0o600);
    } catch (err) {
      throw new GatewayError("CONFIG_INVALID", `${file}: cannot be written (${(err as Error).message})`, { cause: err });
    }
    return result;
  }
  throw new GatewayError("CONFIG_INVALID", `${file}: keeps changing while being updated; try again`);
}

function untouched(read: () => ConfigDocument): ConfigDocument {
  try {
    return read();
  } catch (err) {
    if (err instanceof GatewayError) throw new GatewayError(err.code, `${err.message} (nothing was changed)`, { cause: err });
    throw err;
  }
}

// Users keep config files in dotfile repos and link them in: write through a symlink to its target instead
// of refusing it (writeFileAtomic never follows links itself).
function writableTarget(file: string): string {
  try {
    if (lstatSync(file).isSymbolicLink()) return realpathSync(file);
  } catch {
    // missing, or a dangling link: realpath cannot help; writeFileAtomic reports the latter clearly
  }
  return file;
}

function prepareDir(paths: StatePaths, file: string): void {
  if (resolve(dirname(file)) === resolve(paths.stateDir)) {
    ensureStateDir(paths);
    return;
  }
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new GatewayError("CONFIG_INVALID", `${file}: its folder cannot be created (${(err as Error).message})`, { cause: err });
  }
}
