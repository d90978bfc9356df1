import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRegistry } from './metrics.ts';

test('counters, gauges and histograms render in the Prometheus text format', () => {
  const r = createRegistry();
  const c = r.counter('x_total', 'things');
  c.inc();
  c.inc(2, { kind: 'a"b' });
  r.gauge('g', 'gauge', () => 0.5);
  const h = r.histogram('lat_seconds', 'latency', [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const text = r.render();
  assert.match(text, /^# HELP x_total things$/m);
  assert.match(text, /^x_total 1$/m);
  assert.match(text, /^x_total\{kind="a\\"b"\} 2$/m);
  assert.match(text, /^g 0.5$/m);
  assert.match(text, /^lat_seconds_bucket\{le="0.1"\} 1$/m);
  assert.match(text, /^lat_seconds_bucket\{le="1"\} 2$/m);
  assert.match(text, /^lat_seconds_bucket\{le="\+Inf"\} 3$/m);
  assert.match(text, /^lat_seconds_count 3$/m);
  assert.ok(text.endsWith('\n'));
});

test('a frozen labels object is keyed once and counts like a fresh one', () => {
  const r = createRegistry();
  const c = r.counter('frames_total', 'frames');
  const labels = Object.freeze({ dialect: 'fedmesh' });
  c.inc(1, labels);
  c.inc(2, labels);
  c.inc(1, { dialect: 'fedmesh' });
  assert.match(r.render(), /^frames_total\{dialect="fedmesh"\} 4$/m);
});

test('a removed gauge series is no longer rendered', () => {
  const r = createRegistry();
  const g = r.gauge('lc_connected', 'per node');
  g.set(1, { node: 'a' });
  g.set(1, { node: 'b' });
  g.remove({ node: 'a' });
  const text = r.render();
  assert.doesNotMatch(text, /node="a"/);
  assert.match(text, /^lc_connected\{node="b"\} 1$/m);
});
