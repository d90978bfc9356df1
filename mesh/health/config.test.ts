import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HealthConfig, parseHealthConfig, resolveHealthConfig } from './config.ts';

const DEFAULTS: HealthConfig = {
  periodMs: 5_000,
  timeoutMs: 2_000,
  windowMs: 15_000,
  maxSkewMs: 10_000,
  failureThreshold: 3,
  zones: { enabled: false, label: 'fedmesh.io/topology-zone' },
};

const good: Array<{ name: string; doc: unknown; want: Partial<HealthConfig> }> = [
  { name: 'empty: defaults', doc: {}, want: {} },
  { name: 'null (empty YAML): defaults', doc: null, want: {} },
  {
    name: 'a longer period carries timeout and window along',
    doc: { period: '30s' },
    want: { periodMs: 30_000, windowMs: 90_000 },
  },
  {
    name: 'a short period halves the default timeout',
    doc: { period: '1s' },
    want: { periodMs: 1_000, timeoutMs: 500 },
  },
  {
    name: 'everything set',
    doc: {
      period: '2s',
      timeout: '500ms',
      window: '4s',
      maxSkew: '1m',
      failureThreshold: 1,
      zones: { enabled: true, label: 'topology.kubernetes.io/zone' },
    },
    want: {
      periodMs: 2_000,
      timeoutMs: 500,
      windowMs: 4_000,
      maxSkewMs: 60_000,
      failureThreshold: 1,
      zones: { enabled: true, label: 'topology.kubernetes.io/zone' },
    },
  },
  {
    name: 'an unprefixed label',
    doc: { zones: { label: 'zone' } },
    want: { zones: { enabled: false, label: 'zone' } },
  },
];
for (const c of good) {
  test(`health config: ${c.name}`, () => assert.deepEqual(resolveHealthConfig(c.doc), { ...DEFAULTS, ...c.want }));
}

const bad: Array<{ name: string; doc: unknown; mentions: string }> = [
  { name: 'unknown key', doc: { perod: '5s' }, mentions: '/' },
  { name: 'duration without unit', doc: { period: '5' }, mentions: '/period' },
  { name: 'number for a duration', doc: { timeout: 2000 }, mentions: '/timeout' },
  { name: 'timeout not shorter than period', doc: { period: '2s', timeout: '2s' }, mentions: '/timeout' },
  { name: 'window under two periods', doc: { period: '5s', window: '9s' }, mentions: '/window' },
  { name: 'period too short', doc: { period: '10ms', timeout: '5ms', window: '1s' }, mentions: '/period' },
  { name: 'zero skew', doc: { maxSkew: '0s' }, mentions: '/maxSkew' },
  { name: 'threshold 0', doc: { failureThreshold: 0 }, mentions: '/failureThreshold' },
  { name: 'bad label key', doc: { zones: { label: 'Not A/Label' } }, mentions: '/zones/label' },
  { name: 'unknown zones key', doc: { zones: { enable: true } }, mentions: '/zones' },
  { name: 'not an object', doc: 'period: 5s', mentions: '/' },
];
for (const c of bad) {
  test(`health config rejected: ${c.name}`, () => {
    assert.throws(
      () => resolveHealthConfig(c.doc, 'cm/health'),
      (err: Error & { code?: string }) => {
        assert.equal(err.name, 'ConfigError');
        assert.equal(err.code, 'ERR_CONFIG');
        assert.ok(err.message.startsWith(`cm/health: ${c.mentions}`), err.message);
        return true;
      },
    );
  });
}

test('health config: YAML and JSON text, empty text is the defaults', async () => {
  assert.deepEqual(await parseHealthConfig(''), DEFAULTS);
  assert.equal((await parseHealthConfig('{"period":"10s"}')).periodMs, 10_000);
  const yaml = await parseHealthConfig('period: 10s\nzones:\n  enabled: true\n');
  assert.deepEqual([yaml.periodMs, yaml.zones.enabled], [10_000, true]);
  await assert.rejects(parseHealthConfig('a: [', 'cm'), { name: 'ConfigError', code: 'ERR_CONFIG' });
});
