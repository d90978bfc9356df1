import { ConfigError } from './errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a Go-style duration such as `2s`, `1500ms`, `1m30s` or `0.5s` into milliseconds.
 * A bare number is rejected: a unit is always required so that `--retry-period 2` is not
 * silently read as 2 ms.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '') throw new ConfigError('empty duration');
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (m === null) {
      throw new ConfigError(`invalid duration "${text}": expected e.g. 2s, 1500ms, 1m30s`);
    }
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  return Math.round(total);
}

/** Formats milliseconds the way parseDuration reads them back (`1500ms`, `2s`). */
export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
