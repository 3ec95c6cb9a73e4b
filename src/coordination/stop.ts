// Stopping the running primary: shared by the `stop`/`restart` commands and the programmatic API.
import { GatewayError } from "../errors.js";
import { controlRequest, type Coordinates } from "./client.js";
import { isLockHeld } from "./lock.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForLockFree(c: Coordinates, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isLockHeld(c.lock))) return true;
    await sleep(50);
  }
  return false;
}

/** Asks the primary to stop and waits (bounded) until it has released the lock; returns its pid or null. */
export async function stopPrimary(c: Coordinates): Promise<number | null> {
  let answer = await controlRequest<{ ok: boolean; pid: number }>(c, "stop");
  // A primary between taking the lock and listening answers within moments (as in `status`): ask again
  // while the lock stays held before calling it unresponsive.
  const deadline = Date.now() + 3000;
  while (!answer?.ok && Date.now() < deadline && (await isLockHeld(c.lock))) {
    await sleep(100);
    answer = await controlRequest<{ ok: boolean; pid: number }>(c, "stop");
  }
  if (!answer?.ok) {
    if (await isLockHeld(c.lock)) {
      throw new GatewayError("PRIMARY_UNRESPONSIVE", "the primary holds the lock but does not answer; see `claude-mpm-gateway status`");
    }
    return null;
  }
  if (!(await waitForLockFree(c, 10_000))) {
    throw new GatewayError("PRIMARY_UNRESPONSIVE", `the primary (pid ${answer.pid}) did not stop within 10 s`);
  }
  return answer.pid;
}
