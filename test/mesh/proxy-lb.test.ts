/**
 * Load balancing through the node proxy with real API objects: three endpoints on b1 (three
 * addresses, each a server naming itself), clients on a1 from several source addresses.
 *   - no DestinationRule: round robin alternates exactly;
 *   - DestinationRule consistentHash.useSourceIp: each source IP sticks to one endpoint across
 *     many connections (each from a new source port), and the IPs spread;
 *   - a DestinationRule with an unknown policy or field is refused by the API server (the CRD);
 *   - sessionAffinity ClientIP (timeoutSeconds 3): a client sticks, and moves after the timeout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from './harness.ts';
import { ask, NS, startProxyLab } from './proxy-lab.ts';

const EPS = ['198.18.2.21', '198.18.2.22', '198.18.2.23'];
const CLIENTS = ['198.18.1.51', '198.18.1.52', '198.18.1.53', '198.18.1.54', '198.18.1.55', '198.18.1.56'];
const DR = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule' };
const who = (answers: string[]) => answers.map((a) => a.split(':')[0]);

test('load balancing: round robin exactly, source-IP hash sticks per IP, bad rules refused, ClientIP affinity until its timeout', async (t) => {
  const p = await startProxyLab(t, { crd: true });
  const { m, ip, rest } = p;
  const a1 = m.host('a1');
  const b1 = m.host('b1');
  for (const a of EPS) assert.equal((await b1.exec('ip', ['addr', 'add', `${a}/24`, 'dev', b1.dev('lanb')])).code, 0);
  for (const a of CLIENTS)
    assert.equal((await a1.exec('ip', ['addr', 'add', `${a}/24`, 'dev', a1.dev('lana')])).code, 0);
  for (const a of EPS) p.server('b1', a);
  await p.setEndpoints(EPS.map((a) => ['b1', a]));
  await p.agent('b1');
  await p.agent('a1');
  await p.reach(a1, EPS[0] as string).catch(() => p.reach(a1, EPS[1] as string));

  // Round robin (the default): the three in turn, exactly.
  const rr = who(await ask(a1, 'tcp', ip, 80, 'rr', 9));
  const start = EPS.indexOf(rr[0] as string);
  assert.deepEqual(
    rr,
    Array.from({ length: 9 }, (_, i) => EPS[(start + i) % 3]),
    'round robin',
  );

  // Bad rules are refused by the API server with the CRD's schema: an unknown policy (enum), and
  // an unknown field under strict field validation (what kubectl apply asks for). Still round robin.
  const drPath = `/apis/networking.istio.io/v1/namespaces/${NS}/destinationrules`;
  const bad = async (name: string, status: number, loadBalancer: object, query?: Record<string, string>) => {
    const err = await rest
      .request('POST', drPath, {
        body: { ...DR, metadata: { name }, spec: { host: 'web', trafficPolicy: { loadBalancer } } },
        query,
      })
      .then(
        () => undefined,
        (e: Error & { status?: number }) => e,
      );
    assert.equal(err?.status, status, `${name} refused: ${err?.message}`);
    t.diagnostic(`${name}: ${err?.message.split('\n')[0]}`);
  };
  await bad('typo-value', 422, { simple: 'FASTEST' });
  await bad('typo-field', 400, { simpel: 'RANDOM' }, { fieldValidation: 'Strict' });
  const still = who(await ask(a1, 'tcp', ip, 80, 'bad', 3));
  assert.equal(new Set(still).size, 3, `still round robin: ${still}`);

  // consistentHash by source IP: every connection from one IP (new source port each time) sticks.
  await rest.request('POST', drPath, {
    body: {
      ...DR,
      metadata: { name: 'web-hash' },
      spec: {
        host: `web.${NS}.svc.cluster.local`,
        trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true } } },
      },
    },
  });
  await until(
    'the hash policy to apply',
    async () => (new Set(who(await ask(a1, 'tcp', ip, 80, 'h', 4, CLIENTS[0]))).size === 1 ? true : undefined),
    15_000,
  );
  const chosen = new Map<string, string>();
  for (const c of CLIENTS) {
    const got = who(await ask(a1, 'tcp', ip, 80, 'h', 6, c));
    assert.equal(new Set(got).size, 1, `${c} sticks: ${got}`);
    chosen.set(c, got[0] as string);
  }
  t.diagnostic(`source IP → endpoint: ${JSON.stringify([...chosen])}`);
  assert.ok(new Set(chosen.values()).size >= 2, 'different IPs spread over the endpoints');
  await rest.request('DELETE', `${drPath}/web-hash`);

  // sessionAffinity ClientIP with a 3 s timeout (restarted by each connection).
  const svcPath = `/api/v1/namespaces/${NS}/services/web`;
  await rest.request('PATCH', svcPath, {
    body: { spec: { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 3 } } } },
    contentType: 'application/merge-patch+json',
  });
  const firstSticky = await until(
    'affinity to apply',
    async () => {
      const got = who(await ask(a1, 'tcp', ip, 80, 'a', 5, CLIENTS[1]));
      return new Set(got).size === 1 ? got[0] : undefined;
    },
    15_000,
  );
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      who(await ask(a1, 'tcp', ip, 80, 'a', 2, CLIENTS[1])),
      [firstSticky, firstSticky],
      'within the timeout',
    );
  }
  await new Promise((r) => setTimeout(r, 3500));
  const after = who(await ask(a1, 'tcp', ip, 80, 'a', 1, CLIENTS[1]));
  assert.notEqual(after[0], firstSticky, 'after the timeout the client is balanced again (round robin moves on)');
});
