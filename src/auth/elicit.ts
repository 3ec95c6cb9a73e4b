import { randomUUID } from "node:crypto";
import type { ClientCapabilities, ServerNotification } from "@modelcontextprotocol/client";
import { describeError } from "../errors.js";
import { logger } from "../log.js";
import type { OAuthManager } from "./manager.js";

const log = logger("oauth");

/** URLElicitationRequiredError (MCP 2025-11-25, client/elicitation §URL mode): the same code in both eras. */
export const URL_ELICITATION_REQUIRED = -32042;

/** How long a call waits for the flow to produce its URL (discovery, maybe a registration) before giving up. */
const URL_WAIT_MS = 30_000;

/** The JSON-RPC error a call gets: the client shows the URL, the user signs in, the client calls again. */
export interface SignInElicitation extends Error {
  code: number;
  data: { elicitations: Array<{ mode: "url"; elicitationId: string; url: string; message: string }> };
}

/** True when the calling client said it can take a URL elicitation. */
export function acceptsUrlElicitation(caps: ClientCapabilities | undefined): boolean {
  return Boolean((caps?.elicitation as { url?: unknown } | undefined)?.url);
}

/**
 * Starts the server's sign-in (or joins the one in progress) for a client that can open a URL, and returns
 * the error that hands it the authorization URL; undefined when no URL came in time (the caller then answers
 * with the plain "run auth login" message). When the sign-in completes, the client hears
 * `notifications/elicitation/complete` for it.
 */
export async function signInElicitation(oauth: OAuthManager, server: string, notify: (n: ServerNotification) => Promise<void>): Promise<SignInElicitation | undefined> {
  const elicitationId = randomUUID();
  let timer: NodeJS.Timeout | undefined;
  const url = await new Promise<string | undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), URL_WAIT_MS);
    oauth
      .login(server, (u) => resolve(u))
      .then(() => notify({ method: "notifications/elicitation/complete", params: { elicitationId } }).catch(() => undefined))
      .catch((err) => {
        log.warn(`${server}: sign-in through the client did not complete: ${describeError(err)}`);
        resolve(undefined);
      });
  });
  clearTimeout(timer);
  if (!url) return undefined;
  const message = `Sign in to "${server}" to use its tools; call again once signed in.`;
  return Object.assign(new Error(message), {
    code: URL_ELICITATION_REQUIRED,
    data: { elicitations: [{ mode: "url" as const, elicitationId, url, message }] },
  });
}
