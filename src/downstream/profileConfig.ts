/**
 * One named view of the gateway for the clients that choose it (`--profile <name>`). Patterns are globs
 * (`*`, `?`) over exported names: `<server>__<tool>` and the built-ins' own names.
 */
export interface Profile {
  name: string;
  /** Tools to include; absent means every tool. */
  tools?: string[];
  /** Tools and prompts to drop, after `tools`. */
  exclude: string[];
  /** Prompts to include by exported name; absent means the prompts of the servers the profile includes. */
  prompts?: string[];
  /** Resources and templates to include by URI; absent means those of the servers the profile includes. */
  resources?: string[];
  /** Search mode: the session lists search_tools, describe_tools and call_tool instead of every tool. */
  search: boolean;
  /** Shorter descriptions for the model, by exported tool name. */
  descriptions: Record<string, string>;
}

/** Where in `profiles` a value is wrong, and why; config.ts names the file. */
export interface ProfileProblem {
  path: PropertyKey[];
  problem: string;
}

/** The profile a client with no `--profile` gets, when the config defines it. */
export const DEFAULT_PROFILE = "default";

const PROFILE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const NAME_PATTERN = /^[A-Za-z0-9_*?-]{1,200}$/;
const KEYS = ["tools", "exclude", "prompts", "resources", "search", "descriptions"];

class Invalid {
  constructor(
    readonly path: PropertyKey[],
    readonly problem: string,
  ) {}
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function patterns(value: unknown, path: PropertyKey[], kind: "name" | "uri"): string[] {
  if (!Array.isArray(value)) throw new Invalid(path, "must be an array of glob patterns (strings; * and ? are wildcards)");
  return value.map((p, i) => {
    if (typeof p !== "string" || !p) throw new Invalid([...path, i], "must be a non-empty string");
    if (kind === "name" && !NAME_PATTERN.test(p)) {
      throw new Invalid([...path, i], `${JSON.stringify(p)} can never match: exported names hold only letters, digits, _ and - (with * and ? as wildcards)`);
    }
    return p;
  });
}

function parseProfile(name: string, raw: unknown, at: PropertyKey[]): Profile {
  if (!PROFILE_NAME.test(name)) throw new Invalid(at, `a profile name must match ${PROFILE_NAME.source}`);
  if (!isObject(raw)) throw new Invalid(at, "must be an object");
  for (const key of Object.keys(raw)) {
    if (!KEYS.includes(key)) throw new Invalid([...at, key], `unknown key; a profile has ${KEYS.join(", ")}`);
  }
  const profile: Profile = { name, exclude: [], search: false, descriptions: {} };
  if (raw.tools !== undefined) profile.tools = patterns(raw.tools, [...at, "tools"], "name");
  if (raw.exclude !== undefined) profile.exclude = patterns(raw.exclude, [...at, "exclude"], "name");
  if (raw.prompts !== undefined) profile.prompts = patterns(raw.prompts, [...at, "prompts"], "name");
  if (raw.resources !== undefined) profile.resources = patterns(raw.resources, [...at, "resources"], "uri");
  if (raw.search !== undefined) {
    if (typeof raw.search !== "boolean") throw new Invalid([...at, "search"], "must be true or false");
    profile.search = raw.search;
  }
  if (raw.descriptions !== undefined) {
    if (!isObject(raw.descriptions)) throw new Invalid([...at, "descriptions"], "must be an object of tool name → description");
    for (const [tool, text] of Object.entries(raw.descriptions)) {
      if (typeof text !== "string" || !text.trim()) throw new Invalid([...at, "descriptions", tool], "must be a non-empty string");
      profile.descriptions[tool] = text;
    }
  }
  return profile;
}

/** Validates config.json's `profiles` (absent: none); a problem names its JSON path below `profiles`. */
export function parseProfiles(raw: unknown): { profiles: Record<string, Profile> } | ProfileProblem {
  if (raw === undefined) return { profiles: {} };
  try {
    if (!isObject(raw)) throw new Invalid([], "must be an object of profile name → profile");
    const profiles: Record<string, Profile> = {};
    for (const [name, value] of Object.entries(raw)) profiles[name] = parseProfile(name, value, [name]);
    return { profiles };
  } catch (err) {
    if (err instanceof Invalid) return { path: err.path, problem: err.problem };
    throw err;
  }
}
