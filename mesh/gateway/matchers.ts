/** Istio StringMatch and HTTPMatchRequest compiled into predicates (regexes through re2js). */
import type { HttpMatch, StringMatch } from './model.ts';
import { compileRegex, RegexError } from './regex.ts';

export type StringMatcher = (value: string | undefined) => boolean;

/** What a route match looks at in a request. */
export interface RequestView {
  method: string;
  /** The request target as received: path and query. */
  path: string;
  scheme: 'http' | 'https';
  /** The Host header as received (with its port, if any). */
  authority: string;
  /** Lower-case names; repeated headers joined with `,`. */
  headers: ReadonlyMap<string, string>;
}

export interface CompiledMatch {
  /**
   * The prefix a `rewrite.uri` replaces: the URI prefix matched, or `/` when the block has no URI
   * match (Istio gives Envoy prefix `/` then); undefined for exact and regex matches (whole path).
   */
  uriPrefix?: string;
  ignoreUriCase: boolean;
  test(req: RequestView, query: URLSearchParams): boolean;
}

/** `{}`: the value has to be present. `prefixAllowed` false for query parameters (Istio has none). */
export function stringMatcher(m: StringMatch, path: string, ignoreCase = false, prefixAllowed = true): StringMatcher {
  const kinds = (['exact', 'prefix', 'regex'] as const).filter((k) => m[k] !== undefined);
  if (kinds.length > 1) throw new MatchError(`${path}: only one of exact, prefix, regex`);
  const fold = (s: string) => (ignoreCase ? s.toLowerCase() : s);
  if (m.exact !== undefined) {
    const want = fold(m.exact);
    return (v) => v !== undefined && fold(v) === want;
  }
  if (m.prefix !== undefined) {
    if (!prefixAllowed) throw new MatchError(`${path}: prefix is not supported here`);
    const want = fold(m.prefix);
    return (v) => v !== undefined && fold(v).startsWith(want);
  }
  if (m.regex !== undefined) {
    const re = compileRegex(m.regex);
    return (v) => v !== undefined && re.test(v);
  }
  return (v) => v !== undefined;
}

export class MatchError extends Error {
  override name = 'MatchError';
  code = 'ERR_INVALID_MATCH';
}

const withoutQuery = (p: string) => {
  const q = p.indexOf('?');
  return q < 0 ? p : p.slice(0, q);
};

/**
 * One match block: every condition present must hold. Envoy compares exact and regex URIs with
 * the path alone and a prefix with the whole `:path`; `gateways`, `port` and source conditions
 * are decided when routes are bound (routes.ts), not per request.
 * Throws RegexError or MatchError naming the field.
 */
export function compileMatch(m: HttpMatch, at: string): CompiledMatch {
  const tests: ((req: RequestView, q: URLSearchParams) => boolean)[] = [];
  const ignoreUriCase = m.ignoreUriCase ?? false;
  const named = (f: () => StringMatcher, field: string) => {
    try {
      return f();
    } catch (err) {
      if (err instanceof RegexError) throw new RegexError(`${at}.${field}: ${err.message}`);
      throw err;
    }
  };
  let uriPrefix: string | undefined = '/';
  if (m.uri) {
    uriPrefix = undefined;
    const uri = m.uri;
    const f = named(() => stringMatcher(uri, `${at}.uri`, ignoreUriCase && uri.regex === undefined), 'uri');
    if (uri.prefix !== undefined) {
      uriPrefix = uri.prefix;
      tests.push((r) => f(r.path));
    } else tests.push((r) => f(withoutQuery(r.path)));
  }
  for (const key of ['method', 'scheme', 'authority'] as const) {
    const sm = m[key];
    if (!sm) continue;
    const f = named(() => stringMatcher(sm, `${at}.${key}`), key);
    tests.push((r) => f(key === 'method' ? r.method : key === 'scheme' ? r.scheme : r.authority));
  }
  for (const [name, sm] of Object.entries(m.headers ?? {})) {
    const f = named(() => stringMatcher(sm, `${at}.headers.${name}`), `headers.${name}`);
    const h = name.toLowerCase();
    tests.push((r) => f(r.headers.get(h)));
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
    const f = named(() => stringMatcher(sm, `${at}.withoutHeaders.${name}`), `withoutHeaders.${name}`);
    const h = name.toLowerCase();
    tests.push((r) => !f(r.headers.get(h)));
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    const f = named(() => stringMatcher(sm, `${at}.queryParams.${name}`, false, false), `queryParams.${name}`);
    tests.push((_r, q) => f(q.get(name) ?? undefined));
  }
  return {
    ...(uriPrefix === undefined ? {} : { uriPrefix }),
    ignoreUriCase,
    test: (req, q) => tests.every((t) => t(req, q)),
  };
}
