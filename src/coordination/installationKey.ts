import { randomBytes } from "node:crypto";
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GatewayError, describeError } from "../errors.js";
import { createFileExclusive, refuseNonRegular, writeFileAtomic } from "./atomicWrite.js";

/** The file, in the state dir, of the secret every primary of the installation signs with. */
export const KEY_FILE = "request-state.key";

const KEY_TEXT = /^[0-9a-f]{64}\n?$/;

/**
 * The installation's signing key (32 bytes, 0600 in the state dir): read if present, else created by the
 * first process that needs it, in one atomic step, so two primaries racing at a takeover end up with the
 * same key. A malformed file (truncated by a crash of an old writer, edited by hand) is replaced.
 */
export function installationKey(stateDir: string): Buffer {
  const path = join(stateDir, KEY_FILE);
  try {
    refuseNonRegular(path);
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = readKey(path);
      if (existing) return existing;
      const fresh = randomBytes(32).toString("hex") + "\n";
      if (existing === null) {
        if (createFileExclusive(path, fresh)) return Buffer.from(fresh.trim(), "hex");
      } else {
        writeFileAtomic(path, fresh);
        return Buffer.from(fresh.trim(), "hex");
      }
    }
  } catch (err) {
    throw new GatewayError("STATE_DIR", `cannot set up the signing key ${path}: ${describeError(err)}`, { cause: err });
  }
  throw new GatewayError("STATE_DIR", `cannot set up the signing key ${path}: it keeps changing under us`);
}

/** The key, null when there is no file, undefined when the file is not a key. */
function readKey(path: string): Buffer | null | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  if (process.platform !== "win32" && (lstatSync(path).mode & 0o077) !== 0) {
    // Others could read it, so others could sign with it: never trust it, make a new one.
    return undefined;
  }
  return KEY_TEXT.test(text) ? Buffer.from(text.trim(), "hex") : undefined;
}
