import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compare, InvalidTriggerError, inWindow, metricValue, type Operator, parseTrigger } from './trigger.ts';

const at = (hh: number, mm: number) => new Date(2024, 0, 15, hh, mm, 30);

test('compare: every operator, with Sedna equality tolerance of 1e-6', () => {
  const cases: Array<[Operator, number, number, boolean]> = [
    ['gt', 5, 4, true],
    ['gt', 4, 4, false],
    ['gt', 4 + 1e-7, 4, false], // within tolerance: equal, so not greater
    ['gt', 3, 4, false],
    ['ge', 4, 4, true],
    ['ge', 4 - 1e-7, 4, true],
    ['ge', 3, 4, false],
    ['lt', 3, 4, true],
    ['lt', 4 - 1e-7, 4, false],
    ['lt', 5, 4, false],
    ['le', 4, 4, true],
    ['le', 5, 4, false],
    ['eq', 4, 4, true],
    ['eq', 4 + 1e-7, 4, true],
    ['eq', 4.1, 4, false],
    ['ne', 4.1, 4, true],
    ['ne', 4, 4, false],
  ];
  for (const [op, v, th, want] of cases) assert.equal(compare(op, v, th), want, `${v} ${op} ${th}`);
});

test('operators: symbols and words parse to the same comparison', () => {
  const cases: Array<[string, number, boolean]> = [
    ['>', 501, true],
    ['>', 500, false],
    ['gt', 501, true],
    ['>=', 500, true],
    ['ge', 499, false],
    ['<', 499, true],
    ['lt', 500, false],
    ['<=', 500, true],
    ['le', 501, false],
    ['=', 500, true],
    ['==', 500, true],
    ['eq', 501, false],
    ['!=', 501, true],
    ['ne', 500, false],
  ];
  for (const [operator, n, want] of cases) {
    const t = parseTrigger({ condition: { operator, threshold: 500, metric: 'num_of_samples' } });
    assert.equal(t.holds({ num_of_samples: n }, at(12, 0)), want, `${n} ${operator} 500`);
  }
});

test('metricValue: plain, indexed, list without index, strings, missing', () => {
  const stats = { n: 7, s: '0.5', p: [0.2, 0.3], bad: 'x', obj: { a: 1 } };
  const cases: Array<[string, number | undefined]> = [
    ['n', 7],
    ['s', 0.5],
    ['p[1]', 0.3],
    [' p [0] ', 0.2],
    ['p', 0.2],
    ['p[2]', undefined],
    ['n[0]', undefined],
    ['missing', undefined],
    ['bad', undefined],
    ['obj', undefined],
  ];
  for (const [metric, want] of cases) assert.equal(metricValue(stats, metric), want, metric);
});

test('timer: inclusive daily window, spanning midnight when start > end', () => {
  const cases: Array<[string, string, number, number, boolean]> = [
    ['02:00', '20:00', 2, 0, true],
    ['02:00', '20:00', 20, 0, true],
    ['02:00', '20:00', 20, 1, false],
    ['02:00', '20:00', 1, 59, false],
    ['23:00', '01:00', 23, 30, true],
    ['23:00', '01:00', 0, 0, true],
    ['23:00', '01:00', 1, 0, true],
    ['23:00', '01:00', 1, 1, false],
    ['23:00', '01:00', 12, 0, false],
  ];
  for (const [start, end, hh, mm, want] of cases) {
    assert.equal(inWindow(start, end, at(hh, mm)), want, `${start}-${end} at ${hh}:${mm}`);
  }
  // Parsed timers are normalised to HH:MM, so 2:00 compares as 02:00.
  const t = parseTrigger({ timer: { start: '2:00', end: '3:00' } });
  assert.equal(t.holds({}, at(2, 30)), true);
  assert.equal(t.holds({}, at(10, 0)), false);
});

test('timer and condition must both hold', () => {
  const t = parseTrigger({
    timer: { start: '22:00', end: '06:00' },
    condition: { operator: '>', threshold: 10, metric: 'num_of_samples' },
  });
  assert.equal(t.holds({ num_of_samples: 11 }, at(23, 0)), true);
  assert.equal(t.holds({ num_of_samples: 11 }, at(12, 0)), false);
  assert.equal(t.holds({ num_of_samples: 10 }, at(23, 0)), false);
  assert.equal(t.holds({}, at(23, 0)), false, 'a missing metric never holds');
});

test('checkPeriodSeconds: default 60 s, as given otherwise', () => {
  assert.equal(parseTrigger({}).checkPeriodMs, 60_000);
  assert.equal(parseTrigger({ checkPeriodSeconds: 1 }).checkPeriodMs, 1000);
  assert.equal(parseTrigger({}).holds({}, at(0, 0)), true, 'no condition, no timer: always');
});

test('invalid triggers are refused with ERR_INVALID_TRIGGER', () => {
  const bad: unknown[] = [
    null,
    { checkPeriodSeconds: 0 },
    { checkPeriodSeconds: 'x' },
    { timer: { start: '25:00', end: '01:00' } },
    { timer: { start: '2', end: '01:00' } },
    { timer: 'daily' },
    { condition: { operator: '~', threshold: 1, metric: 'n' } },
    { condition: { operator: '>', threshold: 'many', metric: 'n' } },
    { condition: { operator: '>', threshold: 1, metric: '' } },
  ];
  for (const spec of bad) {
    assert.throws(
      () => parseTrigger(spec),
      (err: unknown) => err instanceof InvalidTriggerError && err.code === 'ERR_INVALID_TRIGGER',
      JSON.stringify(spec),
    );
  }
});
