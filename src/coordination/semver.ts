// Semantic Versioning 2.0.0 precedence (semver.org §11), for one question: is one gateway newer than another.
// Written here rather than taken from the `semver` package: the bridge bundles it and must stay small, and
// the gateway needs parse and compare only (no ranges, no coercion).

/** A parsed version: numeric core and prerelease identifiers (build metadata is kept out: it has no precedence). */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: Array<string | number>;
}

// semver.org's own grammar: no leading zeros in numbers, identifiers of [0-9A-Za-z-], optional +build.
const NUM = "0|[1-9]\\d*";
const IDENT = `(?:${NUM}|\\d*[A-Za-z-][0-9A-Za-z-]*)`;
const PATTERN = new RegExp(`^(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`);

/** Parses a version such as `0.2.0`, `0.2.0-rc.1` or `1.0.0+build.5`; a leading `v` is accepted; else null. */
export function parseSemVer(text: string): SemVer | null {
  const m = PATTERN.exec(text.trim().replace(/^v/, ""));
  if (!m) return null;
  const [major, minor, patch] = [m[1], m[2], m[3]].map(Number) as [number, number, number];
  // Beyond 2^53 a number no longer compares exactly: such a version is not one we can order.
  if (![major, minor, patch].every(Number.isSafeInteger)) return null;
  const prerelease = m[4] ? m[4].split(".").map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : [];
  if (prerelease.some((id) => typeof id === "number" && !Number.isSafeInteger(id))) return null;
  return { major, minor, patch, prerelease };
}

const sign = (n: number): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0);

/** Precedence of two parsed versions: -1, 0 or 1 (semver.org §11; build metadata ignored). */
export function compareSemVer(a: SemVer, b: SemVer): -1 | 0 | 1 {
  const core = sign(a.major - b.major) || sign(a.minor - b.minor) || sign(a.patch - b.patch);
  if (core) return core;
  // A version with a prerelease ranks below the same version without one: 0.2.0-rc.1 < 0.2.0.
  if (!a.prerelease.length || !b.prerelease.length) return sign(b.prerelease.length - a.prerelease.length);
  for (let i = 0; i < Math.min(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i]!;
    const y = b.prerelease[i]!;
    if (x === y) continue;
    // Numeric identifiers rank below alphanumeric ones; numbers compare as numbers, text in ASCII order.
    if (typeof x === "number" && typeof y === "number") return sign(x - y);
    if (typeof x === "number") return -1;
    if (typeof y === "number") return 1;
    return x < y ? -1 : 1;
  }
  return sign(a.prerelease.length - b.prerelease.length);
}

/**
 * True only when `candidate` is a valid version of strictly higher precedence than `current`. Anything that
 * does not parse (a source run's `0.0.0-dev` does; garbage, a missing version do not) is never "newer", so
 * an unknown version never triggers a replacement.
 */
export function isNewer(candidate: string | undefined, current: string | undefined): boolean {
  const a = candidate === undefined ? null : parseSemVer(candidate);
  const b = current === undefined ? null : parseSemVer(current);
  return a !== null && b !== null && compareSemVer(a, b) > 0;
}
