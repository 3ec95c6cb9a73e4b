import { statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { logger } from "../log.js";

const log = logger("config");

/** How a config file is watched. */
export interface WatchOptions {
  /** Quiet time after the last event before `onChange` runs: editors write a file in several steps. */
  debounceMs: number;
  /** The mtime poll that catches what fs.watch misses (network filesystems, a directory created later). */
  pollMs: number;
}

export const DEFAULT_WATCH: WatchOptions = { debounceMs: 200, pollMs: 2000 };

function fingerprint(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

/**
 * Calls `onChange` after the file changes, debounced. Watches the directory, not the file: editors and
 * `add` replace the file by rename, which would orphan a watch on the file itself. Returns a stop function.
 */
export function watchConfig(file: string, onChange: () => void, opts: WatchOptions = DEFAULT_WATCH): () => void {
  let timer: NodeJS.Timeout | undefined;
  let last = fingerprint(file);
  let watcher: FSWatcher | undefined;
  const name = basename(file);
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      last = fingerprint(file);
      onChange();
    }, opts.debounceMs);
    timer.unref();
  };
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      // Some platforms do not say which file changed: then it may have been ours.
      if (!changed || changed === name) schedule();
    });
    watcher.on("error", (err) => {
      log.debug(`watching ${dirname(file)} stopped (${err.message}); polling remains`);
      watcher?.close();
      watcher = undefined;
    });
  } catch (err) {
    log.debug(`cannot watch ${dirname(file)} (${(err as Error).message}); polling every ${opts.pollMs} ms`);
  }
  const poll = setInterval(() => {
    if (fingerprint(file) !== last) schedule();
  }, opts.pollMs);
  poll.unref();
  return () => {
    clearTimeout(timer);
    clearInterval(poll);
    watcher?.close();
  };
}
