/**
 * A client's own view of the gateway over HTTP, in the endpoint URL's query: `?profile=<name>` and
 * `?max_name_length=<n>`, what `--profile` and `--max-name-length` are on a command line. A URL is what an
 * HTTP client's config holds, so that is where its choices live.
 */
export interface SessionQuery {
  profile?: string;
  maxNameLength?: number;
}

/** The choices a request's URL makes; a malformed name limit is ignored (the client's limit then is none). */
export function sessionQueryOf(url: string | undefined): SessionQuery {
  if (!url) return {};
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return {};
  }
  const profile = params.get("profile") ?? undefined;
  const raw = params.get("max_name_length");
  const n = raw !== null && /^\d+$/.test(raw) ? Number(raw) : undefined;
  return { ...(profile ? { profile } : {}), ...(n !== undefined && n > 0 ? { maxNameLength: n } : {}) };
}

/** The endpoint URL with those choices in its query. */
export function withSessionQuery(url: string, query: SessionQuery): string {
  const u = new URL(url);
  if (query.profile !== undefined) u.searchParams.set("profile", query.profile);
  if (query.maxNameLength !== undefined) u.searchParams.set("max_name_length", String(query.maxNameLength));
  return u.toString();
}
