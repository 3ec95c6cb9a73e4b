import { serverPrefix } from "../downstream/namespace.js";
import { DEFAULT_PROFILE, type Profile } from "../downstream/profileConfig.js";
import { GatewayError } from "../errors.js";
import { anyMatches, Glob } from "./glob.js";
import { DEFAULT_NAME_LIMIT, fitNames } from "./nameLimit.js";
import { SEARCH_MODE_TOOLS, type ListedTool } from "./searchMode.js";

/** Anything listed by name: a tool or a prompt. */
export interface Named {
  name: string;
  description?: string;
}

/** What a view needs to know of one listed item: which downstream server it comes from (none: a built-in). */
export type ServerOf = (name: string) => string | undefined;

/**
 * One client's view of the gateway: its profile's filters (tools, prompts, resources), description
 * overrides and name limit. Pure and per session; the lists it filters come from the shared registry and
 * downstream catalog. Without a profile it passes everything through, shortened only if the limit asks.
 */
export class ProfileView {
  readonly profile: Profile | undefined;
  readonly maxNameLength: number;
  private readonly include: Glob[] | undefined;
  private readonly exclude: Glob[];
  private readonly promptGlobs: Glob[] | undefined;
  private readonly resourceGlobs: Glob[] | undefined;

  constructor(profile?: Profile, maxNameLength = DEFAULT_NAME_LIMIT) {
    this.profile = profile;
    this.maxNameLength = maxNameLength;
    this.include = profile?.tools?.map((p) => new Glob(p));
    this.exclude = (profile?.exclude ?? []).map((p) => new Glob(p));
    this.promptGlobs = profile?.prompts?.map((p) => new Glob(p));
    this.resourceGlobs = profile?.resources?.map((p) => new Glob(p));
  }

  /** True in search mode: the session lists the three search tools instead of its tools. */
  get search(): boolean {
    return this.profile?.search ?? false;
  }

  /** Whether any name may be shown shortened: only below the default limit, which every exported name meets. */
  get shortens(): boolean {
    return this.maxNameLength < DEFAULT_NAME_LIMIT;
  }

  /** Whether a tool (by exported name) is in this view. */
  includesTool(name: string): boolean {
    return (!this.include || anyMatches(this.include, name)) && !anyMatches(this.exclude, name);
  }

  /**
   * Whether a downstream server has anything in this view: some included tool name could be one of its
   * names and no exclude drops them all. Decided from names alone, so it holds while the server is down.
   */
  includesServer(server: string): boolean {
    const prefix = serverPrefix(server);
    const included = !this.include || this.include.some((g) => g.canMatchPrefix(prefix));
    return included && !this.exclude.some((g) => g.matchesAllWithPrefix(prefix));
  }

  /** Whether a prompt is in this view: by `prompts` when given, else when its server is (excludes apply). */
  includesPrompt(name: string, server: string | undefined): boolean {
    if (anyMatches(this.exclude, name)) return false;
    if (this.promptGlobs) return anyMatches(this.promptGlobs, name);
    return server === undefined ? true : this.includesServer(server);
  }

  /** Whether a resource or template is in this view: by `resources` (URI globs) when given, else by server. */
  includesResource(uri: string, server: string | undefined): boolean {
    if (this.resourceGlobs) return anyMatches(this.resourceGlobs, uri);
    return server === undefined ? true : this.includesServer(server);
  }

  /** The tools this client sees: filtered, with the profile's descriptions, named within its limit. */
  tools<T extends Named>(all: readonly T[]): T[] {
    const shown = all.filter((t) => this.includesTool(t.name));
    const names = fitNames(
      shown.map((t) => t.name),
      this.maxNameLength,
    );
    return shown.map((t) => {
      const description = this.profile?.descriptions[t.name];
      const name = names.get(t.name)!;
      return name === t.name && description === undefined ? t : { ...t, name, ...(description === undefined ? {} : { description }) };
    });
  }

  /** The real name behind a name this client sees, or undefined when the view has no such tool. */
  resolveTool(visible: string, all: readonly Named[]): string | undefined {
    return this.resolve(
      visible,
      all.filter((t) => this.includesTool(t.name)),
    );
  }

  /** The prompts this client sees, named within its limit. */
  prompts<T extends Named>(all: readonly T[], serverOf: ServerOf): T[] {
    const shown = all.filter((p) => this.includesPrompt(p.name, serverOf(p.name)));
    const names = fitNames(
      shown.map((p) => p.name),
      this.maxNameLength,
    );
    return shown.map((p) => (names.get(p.name) === p.name ? p : { ...p, name: names.get(p.name)! }));
  }

  /** The real name behind a prompt name this client sees. */
  resolvePrompt(visible: string, all: readonly Named[], serverOf: ServerOf): string | undefined {
    return this.resolve(
      visible,
      all.filter((p) => this.includesPrompt(p.name, serverOf(p.name))),
    );
  }

  private resolve(visible: string, shown: readonly Named[]): string | undefined {
    const names = fitNames(
      shown.map((n) => n.name),
      this.maxNameLength,
    );
    for (const [real, seen] of names) if (seen === visible) return real;
    return undefined;
  }
}

/**
 * The profile a client asked for; without `--profile`, the config's `default` profile if it has one (else
 * none: every tool). An unknown name is an error, never a silent "all tools".
 */
export function profileFor(profiles: Readonly<Record<string, Profile>>, requested: string | undefined, configPath: string): Profile | undefined {
  if (requested === undefined) return Object.hasOwn(profiles, DEFAULT_PROFILE) ? profiles[DEFAULT_PROFILE] : undefined;
  if (Object.hasOwn(profiles, requested)) return profiles[requested];
  const known = Object.keys(profiles);
  throw new GatewayError(
    "PROFILE_UNKNOWN",
    `unknown profile "${requested}": ${configPath} ${known.length ? `defines ${known.map((n) => `"${n}"`).join(", ")}` : "defines no profiles"}`,
  );
}

/** The tools a session with this view lists: the three search tools in search mode, else its own tools. */
export function listedTools<T extends Named>(view: ProfileView, all: readonly T[]): Array<T | ListedTool> {
  return view.search ? [...SEARCH_MODE_TOOLS] : view.tools(all);
}
