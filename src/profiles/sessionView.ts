import type { SessionRequest } from "../coordination/handshake.js";
import type { Profile } from "../downstream/profileConfig.js";
import { rpcError } from "../downstream/rpcError.js";
import { describeError, isGatewayError } from "../errors.js";
import { DEFAULT_NAME_LIMIT } from "./nameLimit.js";
import { callSearchTool, type ListedTool, type TextResult } from "./searchMode.js";
import { listedTools, profileFor, ProfileView, type Named, type ServerOf } from "./view.js";

/** Where a session finds the profiles in effect: the config last applied (hot reload replaces them). */
export interface ProfileSource {
  profiles(): Readonly<Record<string, Profile>>;
  readonly configPath: string;
}

/** How a session reaches the shared tools. */
export interface ToolAccess<R> {
  /** Every tool served, unfiltered (the registry's list). */
  all(): readonly ListedTool[];
  /** Waits (bounded) for servers still starting. */
  ready(): Promise<void>;
  /** Calls a tool by its real name, exactly as a direct tools/call would. */
  call(real: string, args: Record<string, unknown> | undefined): Promise<R>;
  /** The answer for a name this session has no tool of. */
  unknown(name: string): R;
}

/** JSON-RPC "Invalid Request": the session asks for a view the config does not define. */
const INVALID_REQUEST = -32600;

/**
 * One session's view, as its client asked for it (`--profile`, `--max-name-length`), applied to the shared
 * lists on every request: a profile edited in config.json takes effect at the next request, and a profile
 * that does not exist (or no longer does) fails every list and call with a JSON-RPC error naming it.
 */
export class SessionView {
  private cached: { profiles: Readonly<Record<string, Profile>>; view: ProfileView } | undefined;
  /** The client's own name (clientInfo), once a request has told it: for status. */
  client: string | undefined;

  constructor(
    private readonly source: ProfileSource | undefined,
    readonly request: SessionRequest = {},
  ) {}

  /** The view in effect now; throws the JSON-RPC error a client gets for an unknown profile. */
  current(): ProfileView {
    const profiles = this.source?.profiles() ?? {};
    if (this.cached?.profiles !== profiles) {
      let profile: Profile | undefined;
      try {
        profile = profileFor(profiles, this.request.profile, this.source?.configPath ?? "config.json");
      } catch (err) {
        if (isGatewayError(err, "PROFILE_UNKNOWN")) throw rpcError(INVALID_REQUEST, describeError(err));
        throw err;
      }
      this.cached = { profiles, view: new ProfileView(profile, this.request.maxNameLength ?? DEFAULT_NAME_LIMIT) };
    }
    return this.cached.view;
  }

  /** Why this session cannot be served as asked, or undefined when it can (for the bridge's stderr). */
  problem(): string | undefined {
    try {
      this.current();
      return undefined;
    } catch (err) {
      return describeError(err);
    }
  }

  /** True when the profile in effect is in search mode (false for an unknown one). */
  searchMode(): boolean {
    try {
      return this.current().search;
    } catch {
      return false;
    }
  }

  /** The name of the profile in effect (none: every tool), for status. */
  profileName(): string | undefined {
    try {
      return this.current().profile?.name;
    } catch {
      return this.request.profile;
    }
  }

  /** True when callTool calls `name` as it is, with no search tool, shortening or lookup in between. */
  callsDirectly(name: string): boolean {
    try {
      const view = this.current();
      return !view.search && !view.shortens && view.includesTool(name);
    } catch {
      return false;
    }
  }

  /** What tools/list answers. */
  tools<T extends Named>(all: readonly T[]): Array<T | ListedTool> {
    return listedTools(this.current(), all);
  }

  /**
   * Serves tools/call: the search tools in search mode, else the tool behind the name this client sees, by
   * `call` with its real name. A name the view hides is `unknown` (the registry's own "unknown tool" answer);
   * one it would show but cannot find now (a server starting or down) goes to `call` as it is, after `ready`,
   * so the registry says what it always says of it.
   */
  callTool<R>(name: string, args: Record<string, unknown> | undefined, tools: ToolAccess<R>): Promise<R | TextResult> {
    const view = this.current();
    const direct = async (n: string, a: Record<string, unknown> | undefined): Promise<R> => {
      // With no name shortened, an included name is its own real name: no walk over every tool on each call
      // (the registry answers a name it does not serve as it always does).
      if (!view.shortens && view.includesTool(n)) return tools.call(n, a);
      const real = view.resolveTool(n, tools.all()) ?? (await tools.ready(), view.resolveTool(n, tools.all()));
      if (real !== undefined) return tools.call(real, a);
      return view.includesTool(n) && n.length <= view.maxNameLength ? tools.call(n, a) : tools.unknown(n);
    };
    if (view.search) {
      const searched = callSearchTool(name, args, {
        tools: async () => (await tools.ready(), view.tools(tools.all()) as ListedTool[]),
        call: direct,
      });
      if (searched) return searched;
    }
    return direct(name, args);
  }

  /** What prompts/list answers. */
  prompts<T extends Named>(all: readonly T[], serverOf: ServerOf): T[] {
    return this.current().prompts(all, serverOf);
  }

  /** The real name of a prompt this client sees, or undefined when its view has none of that name. */
  resolvePrompt(name: string, all: readonly Named[], serverOf: ServerOf): string | undefined {
    return this.current().resolvePrompt(name, all, serverOf);
  }

  /** What resources/list answers. */
  resources<T extends { uri: string }>(all: readonly T[], serverOf: ServerOf): T[] {
    const view = this.current();
    return all.filter((r) => view.includesResource(r.uri, serverOf(r.uri)));
  }

  /** What resources/templates/list answers. */
  templates<T extends { uriTemplate: string }>(all: readonly T[], serverOf: ServerOf): T[] {
    const view = this.current();
    return all.filter((t) => view.includesResource(t.uriTemplate, serverOf(t.uriTemplate)));
  }

  /** Whether this client may read (or subscribe to) a URI served by `server`. */
  allowsResource(uri: string, server: string | undefined): boolean {
    return this.current().includesResource(uri, server);
  }
}
