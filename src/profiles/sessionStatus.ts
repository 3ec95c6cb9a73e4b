import type { SessionView } from "./sessionView.js";
import type { ListedTool } from "./searchMode.js";
import { estimateTools } from "./tokens.js";

/** One connected session as `status` shows it. */
export interface SessionStatus {
  /** The client's own name (clientInfo), when it gave one. */
  client: string | null;
  /** The profile in effect (none: every tool). */
  profile: string | null;
  search: boolean;
  /** How many tools it is listed, and their estimated tokens in its model's context. */
  tools: number;
  tool_tokens: number | null;
  /** Why it is not served as asked (an unknown profile). */
  problem?: string;
}

/** What `status` says of one session: its client, its profile and the estimated cost of what it is listed. */
export async function sessionStatus(view: SessionView, client: string | undefined, all: readonly ListedTool[]): Promise<SessionStatus> {
  const problem = view.problem();
  if (problem) return { client: client ?? null, profile: view.request.profile ?? null, search: false, tools: 0, tool_tokens: null, problem };
  const listed = view.tools(all);
  const { total } = await estimateTools(listed);
  return { client: client ?? null, profile: view.profileName() ?? null, search: view.current().search, tools: listed.length, tool_tokens: total };
}
