/**
 * A glob over exported names (and resource URIs): `*` matches any run of characters, none included, `?` exactly
 * one; every other character stands for itself, case-sensitively, as tool names are compared. Beyond matching
 * a name, it answers the two questions a profile asks of a whole server: can any name of the server (all
 * beginning with its prefix) match, and do all of them?
 */
export class Glob {
  /** By code point, as `text` is read, so a non-ASCII character in a URI is one `?`. */
  private readonly p: string[];

  constructor(readonly pattern: string) {
    this.p = Array.from(pattern);
  }

  /** True when the whole of `text` matches. */
  matches(text: string): boolean {
    return this.after(text).has(this.p.length);
  }

  /** True when some text beginning with `prefix` matches. */
  canMatchPrefix(prefix: string): boolean {
    // Whatever is left of the pattern (literals, `?`, `*`) is matched by some suffix.
    return this.after(prefix).size > 0;
  }

  /** True when every text beginning with `prefix` matches: a `*`, and nothing else, is left of the pattern. */
  matchesAllWithPrefix(prefix: string): boolean {
    return [...this.after(prefix)].some((s) => s < this.p.length && this.p.slice(s).every((c) => c === "*"));
  }

  /** The pattern positions reachable after reading `text` (a small NFA: no regex, no backtracking blow-up). */
  private after(text: string): Set<number> {
    let states = this.closure(new Set([0]));
    for (const ch of text) {
      const next = new Set<number>();
      for (const s of states) {
        const c = this.p[s];
        if (c === "*") next.add(s);
        else if (c === "?" || c === ch) next.add(s + 1);
      }
      states = this.closure(next);
      if (!states.size) break;
    }
    return states;
  }

  /** A `*` may also match nothing: from it, the position after it is reachable too. */
  private closure(states: Set<number>): Set<number> {
    for (const s of states) {
      for (let i = s; this.p[i] === "*"; i++) states.add(i + 1);
    }
    return states;
  }
}

/** True when any of the globs matches `text`. */
export function anyMatches(globs: readonly Glob[], text: string): boolean {
  return globs.some((g) => g.matches(text));
}
