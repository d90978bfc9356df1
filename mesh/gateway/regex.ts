/**
 * User-supplied regexes (URI, header, query, authority matches and uriRegexRewrite) compiled by
 * re2js, a pure-JS port of RE2: matching time is linear in the input, so no pattern can hang the
 * gateway (a backtracking `(a+)+$` costs the same as any other). Istio documents its regexes as
 * RE2 syntax and Envoy matches them against the whole value, as `matches()` does here.
 */
import { RE2JS } from 're2js';
import { REGEX_MAX_LENGTH } from './constants.ts';

export interface SafeRegex {
  readonly source: string;
  /** The whole value matches (Envoy's safe_regex semantics). */
  test(value: string): boolean;
  /** Every match replaced by `rewrite`, where `\1`…`\9` are capture groups (Envoy's substitution). */
  replaceAll(value: string, rewrite: string): string;
}

export class RegexError extends Error {
  override name = 'RegexError';
  code = 'ERR_INVALID_REGEX';
}

export function compileRegex(source: string): SafeRegex {
  if (source.length > REGEX_MAX_LENGTH) {
    throw new RegexError(`regex is ${source.length} characters, more than ${REGEX_MAX_LENGTH}`);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    throw new RegexError(`regex ${JSON.stringify(source)} does not compile as RE2: ${(err as Error).message}`);
  }
  return {
    source,
    test: (value) => re.matches(value),
    replaceAll: (value, rewrite) => re.matcher(value).replaceAll(toJavaReplacement(rewrite)),
  };
}

/** Envoy writes groups as `\1`; re2js as `$1`, with `$$` for a literal `$` (a backslash is literal). */
function toJavaReplacement(rewrite: string): string {
  let out = '';
  for (let i = 0; i < rewrite.length; i++) {
    const c = rewrite[i] as string;
    const next = rewrite[i + 1];
    if (c === '\\' && next !== undefined && next >= '0' && next <= '9') {
      out += `$${next}`;
      i++;
    } else out += c === '$' ? '$$' : c;
  }
  return out;
}
