import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../common/log.ts';
import { createRegistry } from '../common/metrics.ts';
import { buildHttpServer, parseListen } from './http.ts';

test('readyz reflects its checks; metrics are Prometheus text', async (t) => {
  let leading = false;
  const registry = createRegistry();
  registry.gauge('fedmesh_gm_is_leader', 'leader', () => (leading ? 1 : 0));
  const app = buildHttpServer(
    {
      readyz: [{ name: 'leader', failure: () => (leading ? undefined : 'not the leader') }],
      livez: [{ name: 'ping', failure: () => undefined }],
    },
    { registry, log: createLogger({ component: 'test', level: 'silent' }) },
  );
  t.after(() => app.close());
  let r = await app.inject({ url: '/readyz' });
  assert.equal(r.statusCode, 503);
  assert.match(r.body, /\[-\]leader failed: not the leader/);
  leading = true;
  r = await app.inject({ url: '/readyz' });
  assert.equal(r.statusCode, 200);
  r = await app.inject({ url: '/readyz?verbose' });
  assert.match(r.body, /\[\+\]leader ok/);
  assert.equal((await app.inject({ url: '/livez' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/readyz?bogus=1' })).statusCode, 400);
  const m = await app.inject({ url: '/metrics' });
  assert.match(m.headers['content-type'] as string, /text\/plain; version=0.0.4/);
  assert.match(m.body, /^# TYPE fedmesh_gm_is_leader gauge$/m);
  assert.match(m.body, /^fedmesh_gm_is_leader 1$/m);
});

const listens: Array<{ in: string; out?: { host: string; port: number } }> = [
  { in: '127.0.0.1:8080', out: { host: '127.0.0.1', port: 8080 } },
  { in: ':9100', out: { host: '0.0.0.0', port: 9100 } },
  { in: '[::1]:9000', out: { host: '::1', port: 9000 } },
  { in: '8080' },
  { in: 'host:99999' },
  { in: 'host:' },
];
for (const c of listens) {
  test(`parseListen ${JSON.stringify(c.in)}`, () => {
    if (c.out) assert.deepEqual(parseListen(c.in), c.out);
    else assert.throws(() => parseListen(c.in));
  });
}
