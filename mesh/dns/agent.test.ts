import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Compile } from 'typebox/compile';
import { createLogger } from '../../common/log.ts';
import { parseConfig } from '../config.ts';
import { createServiceAgent } from './agent.ts';
import { DnsConfigSchema, ServicesConfigSchema } from './config.ts';
import { query, rcodeOf, stubUpstream } from './testing.ts';

const log = createLogger({
  component: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

test('config sections: what is accepted and what is refused', () => {
  const dns = Compile(DnsConfigSchema);
  const services = Compile(ServicesConfigSchema);
  const good = [
    {},
    { listen: ['169.254.96.16:53', '[fd00::53]:53'], upstreams: ['10.0.0.2', '[fd00::2]:53'], cacheSize: 0, ttl: 30 },
    { rateLimit: false },
    { rateLimit: { qps: 0.5, burst: 1 } },
  ];
  for (const g of good) assert.equal(dns.Check(g), true, JSON.stringify(g));
  const bad = [
    { listen: [] },
    { listen: ['169.254.96.16'] },
    { cacheSize: -1 },
    { rateLimit: { qps: 0, burst: 1 } },
    { rateLimit: true },
    { upstream: ['10.0.0.2'] },
  ];
  for (const b of bad) assert.equal(dns.Check(b), false, JSON.stringify(b));
  assert.equal(services.Check({ kubeconfig: '/k', namespace: 'demo', clusterDomain: 'edge.example' }), true);
  for (const b of [{ clusterDomain: 'a..b' }, { namespace: 'Demo' }, { kube: '/k' }]) {
    assert.equal(services.Check(b), false, JSON.stringify(b));
  }
});

test('agent: nothing configured is no agent; dns alone forwards; bad values are ConfigErrors', async (t) => {
  assert.equal(await createServiceAgent({}, { log }), undefined);
  const up = await stubUpstream((q) => ({
    answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.9' }],
  }));
  t.after(() => up.close());
  const agent = await createServiceAgent(
    { dns: { listen: ['127.0.0.1:0'], upstreams: [`127.0.0.1:${up.port}`] } },
    { log },
  );
  assert.ok(agent?.resolver);
  assert.equal(agent.catalog, undefined);
  const ac = new AbortController();
  const running = agent.start(ac.signal);
  await agent.ready;
  const [l] = await agent.resolver.ready;
  const port = (l as { port: number }).port;
  const p = await query(port, 'web.demo.svc.cluster.local', 'A');
  assert.equal(rcodeOf(p), 0, 'no catalog: the cluster domain is forwarded too');
  assert.equal(up.queries.length, 1);
  ac.abort();
  await running;

  await assert.rejects(createServiceAgent({ dns: { upstreams: ['a b'] } }, { log }), { code: 'ERR_CONFIG' });
  await assert.rejects(createServiceAgent({ dns: { listen: ['127.0.0.1:99999'] } }, { log }), { code: 'ERR_CONFIG' });
  await assert.rejects(createServiceAgent({ services: { kubeconfig: '/nonexistent/kubeconfig' } }, { log }), {
    code: 'ERR_CONFIG',
  });
});

test('agent: a listen address that cannot be bound rejects ready and start', async () => {
  const agent = await createServiceAgent({ dns: { listen: ['192.0.2.1:53'], upstreams: [] } }, { log });
  assert.ok(agent);
  const running = agent.start(AbortSignal.timeout(5000));
  await assert.rejects(agent.ready);
  await assert.rejects(running);
});

test('the mesh config file takes the services and dns sections and names a bad key', async () => {
  const cfg = await parseConfig(
    'services:\n  namespace: demo\n  clusterDomain: edge.example\ndns:\n  listen: ["127.0.0.1:5353"]\n  rateLimit: false\n',
  );
  assert.deepEqual(cfg.services, { namespace: 'demo', clusterDomain: 'edge.example' });
  assert.deepEqual(cfg.dns, { listen: ['127.0.0.1:5353'], rateLimit: false });
  await assert.rejects(parseConfig('dns:\n  cache: 10\n'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_CONFIG');
    assert.match(err.message, /\/dns/);
    return true;
  });
});
