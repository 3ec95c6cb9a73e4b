// The parts a gateway process shares among its sessions: the tool registry and the downstream servers. The
// primary, --standalone and the CLI's local tool source build them here; sessions receive them, never globals.
import { builtinTools } from "../tools/builtin.js";
import { Registry } from "../tools/registry.js";
import type { GatewayState } from "../tools/types.js";
import type { StatePaths } from "../coordination/paths.js";
import { VERSION } from "../version.js";
import { DownstreamManager } from "../downstream/manager.js";
import { DEFAULT_TIMING } from "../downstream/downstream.js";
import { OAuthManager, type RemoteServer } from "../auth/manager.js";
import { remoteServersOf } from "../downstream/config.js";
import { join } from "node:path";
import { StateSigner } from "../downstream/stateSigner.js";
import type { Prestarted } from "../downstream/prestart.js";
import { installationKey } from "../coordination/installationKey.js";
import { ensureStateDir } from "../coordination/stateDir.js";
import { describeError } from "../errors.js";
import { logger } from "../log.js";

const log = logger("gateway");

/** Builds the shared registry for a process in the given role. */
export function createRegistry(mode: GatewayState["mode"], paths: StatePaths, sessionCount: () => number = () => 0): Registry {
  const state: GatewayState = {
    version: VERSION,
    mode,
    startedAt: new Date(),
    stateDir: paths.stateDir,
    configPath: paths.configFile,
    sessionCount,
    toolNames: () => registry.names(),
  };
  const registry = new Registry(builtinTools, state);
  return registry;
}

/**
 * The signer of the `requestState` this process hands clients: keyed by the installation's key, so a retry
 * that reaches the next primary after a takeover is honoured. The `tools`/`test` commands, which no client
 * retries, sign with a key of their own and leave the state dir alone.
 */
function signerFor(paths: StatePaths, mode: GatewayState["mode"]): StateSigner {
  if (mode === "cli") return StateSigner.ephemeral();
  try {
    // --standalone and `serve --http` may be the first to use a fresh home: the key's folder must exist (0700).
    ensureStateDir(paths);
    return new StateSigner(installationKey(paths.stateDir));
  } catch (err) {
    // Retries then work within this process only; nothing else depends on the key.
    log.warn(`${describeError(err)}; multi-round-trip retries will not survive a restart`);
    return StateSigner.ephemeral();
  }
}

/** A positive number of milliseconds from the environment, or undefined. */
function envMs(name: string): number | undefined {
  const ms = Number(process.env[name]?.trim() || NaN);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * The downstream servers of `paths.configFile`, plugged into the registry as a tool provider; call `start()`
 * once the process serves clients (`prestarted`: a primary's local servers, started before its runtime loaded).
 * CLAUDE_MPM_GATEWAY_PING_MS, CLAUDE_MPM_GATEWAY_BACKOFF_MS and CLAUDE_MPM_GATEWAY_CALL_TIMEOUT_MS shorten the
 * health-check interval, the first restart delay and the time a forwarded call may run without progress (tests).
 */
export function createDownstream(paths: StatePaths, registry: Registry, mode: GatewayState["mode"] = "primary", prestarted?: Prestarted): DownstreamManager & { oauth: OAuthManager } {
  const timing = { ...DEFAULT_TIMING };
  const ping = envMs("CLAUDE_MPM_GATEWAY_PING_MS");
  if (ping) Object.assign(timing, { pingIntervalMs: ping, pingTimeoutMs: Math.min(ping, timing.pingTimeoutMs) });
  const backoff = envMs("CLAUDE_MPM_GATEWAY_BACKOFF_MS");
  if (backoff) timing.backoffBaseMs = backoff;
  const callTimeout = envMs("CLAUDE_MPM_GATEWAY_CALL_TIMEOUT_MS");
  if (callTimeout) timing.callTimeoutMs = callTimeout;
  const manager = new DownstreamManager({ configPath: paths.configFile, reserved: registry.names(), timing, signer: signerFor(paths, mode), ...(prestarted ? { prestarted } : {}) });
  // Tokens live beside the primary's lock: one primary per state dir is the one refresher of each grant.
  // A server added a moment ago (`add`, then at once `auth login`) is in the file before the config watcher
  // has applied it: the auth side then reads the file, as `auth status` does.
  const oauth = new OAuthManager(join(paths.stateDir, "oauth"), (name) => manager.remoteServer(name) ?? remoteOnDisk(paths.configFile, name));
  manager.useOAuth(oauth);
  registry.addProvider(manager);
  return Object.assign(manager, { oauth });
}

/** The remote server `name` as the config file says now; undefined when absent or the file is invalid. */
function remoteOnDisk(file: string, name: string): RemoteServer | undefined {
  try {
    return remoteServersOf(file).find((s) => s.name === name);
  } catch {
    return undefined;
  }
}
