import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRegex } from './regex.ts';

test('RE2 syntax, matched against the whole value', () => {
  const re = compileRegex('/api/v[0-9]+');
  assert.equal(re.test('/api/v2'), true);
  assert.equal(re.test('/api/v2/x'), false, 'a full match, not a search');
  assert.equal(re.test('x/api/v2'), false);
});

test('refused: bad syntax, backreferences and lookarounds (not RE2), oversized patterns', () => {
  for (const src of ['(a', '(a)\\1', '(?=a)b', '[z-a]', 'a'.repeat(2000)]) {
    assert.throws(() => compileRegex(src), { name: 'RegexError', code: 'ERR_INVALID_REGEX' }, src);
  }
});

test('a pathological pattern costs linear time: it answers at once', () => {
  const re = compileRegex('(a+)+$|(x*)*y');
  // A backtracking engine needs ~2^40 steps here; RE2 walks the input once.
  assert.equal(re.test(`${'a'.repeat(40)}!`), false);
  assert.equal(compileRegex('(a|aa)*c').test(`${'a'.repeat(10_000)}b`), false);
});

test('replaceAll with Envoy-style \\N groups; $ is literal', () => {
  const re = compileRegex('^/service/([^/]+)(/.*)$');
  assert.equal(re.replaceAll('/service/foo/v1/api', '\\2/instance/\\1'), '/v1/api/instance/foo');
  assert.equal(compileRegex('o').replaceAll('foo', '$0'), 'f$0$0');
});
