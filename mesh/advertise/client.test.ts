import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';
import { TunnelRefusedError } from '../errors.ts';
import { serviceForwardMetrics } from '../metrics.ts';
import type { MeshTunnel, OpenTunnelOptions } from '../tunnel/tunnel.ts';
import { type ProviderCandidate, rankProviders } from './choice.ts';
import { createServiceClient } from './client.ts';
import type { ServiceProviders } from './providers.ts';

/** Providers held in a table; failures are remembered as the real ones are (penalty ordering). */
function stubProviders(list: ProviderCandidate[], found: ProviderCandidate[] = []) {
  const failed = new Map<string, number>();
  const calls = { lookups: 0, wanted: [] as string[] };
  const providers: ServiceProviders = {
    want: (s) => void calls.wanted.push(s),
    ranked: () =>
      rankProviders(
        list.map((p) => ({ ...p, failedAt: failed.get(p.peerId) })),
        performance.now(),
        30_000,
      ),
    async lookupNow() {
      calls.lookups++;
      list.push(...found.splice(0));
    },
    failed: (peer) => void failed.set(peer, performance.now()),
    succeeded: (peer) => void failed.delete(peer),
    pathOf: (peer) => list.find((p) => p.peerId === peer)?.path ?? 'none',
    rttOf: () => undefined,
    sample: () => {},
    poke: () => {},
    status: () => ({ advertised: [], wanted: {}, unendorsed: {} }),
    start: async () => {},
  };
  return { providers, calls };
}

const p = (node: string, path: ProviderCandidate['path'], rttMs?: number): ProviderCandidate => ({
  node,
  peerId: `peer-${node}`,
  host: '127.0.0.1',
  port: 9000,
  path,
  rttMs,
});

/** openTunnel that behaves per node: 'ok', a refusal reason, 'unreachable' or 'hang' (until the signal). */
function stubTunnels(behaviour: Record<string, string>) {
  const tried: string[] = [];
  const openTunnel = async (o: OpenTunnelOptions): Promise<MeshTunnel> => {
    tried.push(o.node);
    const b = behaviour[o.node] ?? 'ok';
    if (b === 'ok') {
      return Object.assign(new PassThrough(), {
        tunnel: { id: 'x', node: o.node, target: `${o.host}:${o.port}`, direction: 'outbound' as const, resumes: 0 },
      });
    }
    if (b === 'hang') {
      await new Promise((_, reject) => o.signal?.addEventListener('abort', () => reject(o.signal?.reason)));
    }
    if (b === 'unreachable') throw Object.assign(new Error('cannot reach'), { code: 'ERR_UNREACHABLE' });
    throw new TunnelRefusedError(b as 'target-not-allowed', `tunnel refused: ${b}`);
  };
  return { openTunnel, tried };
}

const quiet = () => createLogger({ component: 'test', level: 'silent' });

test('service client: the best provider first; refusal, unreachable and timeout each move on at once', async () => {
  const cases: Array<{
    name: string;
    providers: ProviderCandidate[];
    behaviour: Record<string, string>;
    want: { node: string; tried: string[] };
  }> = [
    {
      name: 'first choice answers',
      providers: [p('relayed', 'relayed', 5), p('direct', 'direct', 30)],
      behaviour: {},
      want: { node: 'direct', tried: ['direct'] },
    },
    {
      name: 'refused (target not allowed) is skipped',
      providers: [p('gm-0', 'direct'), p('gm-1', 'relayed')],
      behaviour: { 'gm-0': 'target-not-allowed' },
      want: { node: 'gm-1', tried: ['gm-0', 'gm-1'] },
    },
    {
      name: 'nothing listening behind the provider (dial-failed) is skipped',
      providers: [p('gm-0', 'direct'), p('gm-1', 'relayed')],
      behaviour: { 'gm-0': 'dial-failed' },
      want: { node: 'gm-1', tried: ['gm-0', 'gm-1'] },
    },
    {
      name: 'unreachable and silent providers are skipped',
      providers: [p('a', 'direct'), p('b', 'punched'), p('c', 'none')],
      behaviour: { a: 'unreachable', b: 'hang' },
      want: { node: 'c', tried: ['a', 'b', 'c'] },
    },
  ];
  for (const c of cases) {
    const { providers } = stubProviders(c.providers);
    const tunnels = stubTunnels(c.behaviour);
    const registry = createRegistry();
    const client = createServiceClient({
      providers,
      openTunnel: tunnels.openTunnel,
      log: quiet(),
      metrics: serviceForwardMetrics(registry),
      attemptTimeoutMs: 100,
    });
    const t = await client.open({ service: 'fedmesh-gm' });
    assert.equal(t.service.node, c.want.node, c.name);
    assert.deepEqual(tunnels.tried, c.want.tried, c.name);
    assert.equal(client.last()['fedmesh-gm']?.node, c.want.node, c.name);
    assert.equal(client.last()['fedmesh-gm']?.attempts, c.want.tried.length, c.name);
    const text = registry.render();
    assert.match(
      text,
      /fedmesh_mesh_service_forward_connections_total\{path="[a-z]+",result="ok",service="fedmesh-gm"\} 1/,
      c.name,
    );
    if (c.want.tried.length > 1) {
      assert.match(
        text,
        new RegExp(`fedmesh_mesh_service_forward_failovers_total\\{service="fedmesh-gm"\\} ${c.want.tried.length - 1}`),
        c.name,
      );
    }
  }
});

test('service client: a provider that failed is tried last by the next connections', async () => {
  const { providers } = stubProviders([p('gm-0', 'direct'), p('gm-1', 'relayed')]);
  const behaviour: Record<string, string> = { 'gm-0': 'unreachable' };
  const tunnels = stubTunnels(behaviour);
  const client = createServiceClient({ providers, openTunnel: tunnels.openTunnel, log: quiet() });
  assert.equal((await client.open({ service: 's' })).service.node, 'gm-1');
  assert.equal((await client.open({ service: 's' })).service.node, 'gm-1');
  assert.deepEqual(tunnels.tried, ['gm-0', 'gm-1', 'gm-1']);
});

test('service client: no provider known → a lookup first; still none → ERR_NO_PROVIDER; all failing → ERR_NO_PROVIDER', async () => {
  const found = stubProviders([], [p('late', 'none')]);
  const c1 = createServiceClient({
    providers: found.providers,
    openTunnel: stubTunnels({}).openTunnel,
    log: quiet(),
  });
  assert.equal((await c1.open({ service: 's' })).service.node, 'late');
  assert.equal(found.calls.lookups, 1);

  const none = createServiceClient({
    providers: stubProviders([]).providers,
    openTunnel: stubTunnels({}).openTunnel,
    log: quiet(),
  });
  await assert.rejects(none.open({ service: 's' }), { name: 'MeshError', code: 'ERR_NO_PROVIDER' });

  const all = createServiceClient({
    providers: stubProviders([p('a', 'direct'), p('b', 'relayed')]).providers,
    openTunnel: stubTunnels({ a: 'dial-failed', b: 'unreachable' }).openTunnel,
    log: quiet(),
  });
  await assert.rejects(all.open({ service: 's' }), { code: 'ERR_NO_PROVIDER' });
});

test('service client: a caller that gives up stops the attempts', async () => {
  const tunnels = stubTunnels({ a: 'hang', b: 'ok' });
  const client = createServiceClient({
    providers: stubProviders([p('a', 'direct'), p('b', 'relayed')]).providers,
    openTunnel: tunnels.openTunnel,
    log: quiet(),
    attemptTimeoutMs: 10_000,
  });
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('client closed')), 50);
  await assert.rejects(client.open({ service: 's', signal: ac.signal }), { code: 'ERR_NO_PROVIDER' });
  assert.deepEqual(tunnels.tried, ['a']);
});
