/**
 * Services advertised on the mesh, end to end on real namespaces: an edge node behind a NAT
 * forwards `@echo-svc` and reaches a provider in another LAN through the relay, with no address of
 * any provider configured (records and DHT provider records only). c, on the public segment, is the
 * first choice (a direct path) but refuses: nothing listens behind it (a GM replica whose hub is
 * down while its mesh sidecar runs) — it is skipped at once. Killing the provider in use sends the
 * next connection to the other one. Advertisements follow config reloads.
 *
 *   pub   r1 (relay), c (advertises echo-svc → 127.0.0.1:7001, nothing there)
 *   lana  a1, a2 (advertise echo-svc → 127.0.0.1:7000, echo servers), behind a symmetric NAT
 *   lanb  b1 (--forward 17000=@echo-svc), behind a symmetric NAT
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateServiceKey } from '../../mesh/advertise/endorse.ts';
import { createMeshLab, ECHO_PORT, type MeshProc, until } from './harness.ts';

const FWD = 17000;
const SERVICE = 'echo-svc';

interface ServicesStatus {
  unendorsed: Record<string, string[]>;
  advertised: Array<{ name: string; host: string; port: number }>;
  wanted: Record<string, Array<{ node: string; path: string; port: number; penalized: boolean; rttMs?: number }>>;
  last: Record<string, { node: string; path: string; attempts: number; ms: number }>;
}
const services = async (p: MeshProc) => ((await p.status()) as unknown as { services: ServicesStatus }).services;

test('service forward: found through records and the DHT, across LANs through a relay; a refusing provider is skipped; the next connection after a provider dies goes to another', async (t) => {
  const m = await createMeshLab({ nodes: ['r1', 'c', 'a1', 'a2', 'b1'], mapping: 'symmetric' });
  t.after(() => m.destroy());
  const relays = ['r1'] as const;
  await m.start('r1', { relays: [...relays] });
  const advertise = (port: number) => m.config([...relays], { advertise: [{ name: SERVICE, port }] });
  const c = await m.start('c', { config: advertise(ECHO_PORT + 1) });
  await m.echo('a1');
  await m.echo('a2');
  const a1 = await m.start('a1', { config: advertise(ECHO_PORT) });
  const a2 = await m.start('a2', { config: advertise(ECHO_PORT) });
  const b1 = await m.start('b1', { relays: [...relays], forwards: [`${FWD}=@${SERVICE}`] });
  const providers = { a1, a2 } as Record<string, MeshProc>;

  // Nobody told b1 where the providers are: it finds all three in the DHT and learns their records.
  const known = await until(
    'b1 to know the three providers',
    async () => {
      const s = await services(b1);
      const list = s.wanted[SERVICE] ?? [];
      return list.length === 3 && list.every((p) => p.path !== 'none') ? list : undefined;
    },
    30_000,
  );
  assert.deepEqual(known.map((p) => p.node).sort(), ['a1', 'a2', 'c']);
  assert.equal(known[0]?.node, 'c', `c (public: a direct path) is the first choice: ${JSON.stringify(known)}`);
  assert.equal(known[0]?.path, 'direct');
  assert.deepEqual((await services(c)).advertised, [{ name: SERVICE, host: '127.0.0.1', port: ECHO_PORT + 1 }]);

  // First connection: c refuses (nothing listening), the next provider answers, through the relay.
  const first = await m.transfer('b1', FWD, 256 << 10).done;
  assert.equal(first.identical, true, JSON.stringify(first));
  const skipped = await b1.waitLog((l) => l.msg === 'service provider failed; trying the next', 5_000);
  assert.equal(skipped.node, 'c');
  assert.equal(skipped.reason, 'dial-failed');
  const opened = await b1.waitLog((l) => l.msg === 'service connection opened', 5_000);
  const used = opened.node as string;
  assert.ok(used === 'a1' || used === 'a2', `a LAN-A provider answered: ${used}`);
  assert.equal(opened.path, 'relayed');
  assert.equal((opened.route as { kind: string; relay?: string }).relay, 'r1');
  assert.equal(opened.attempt, 2);
  const after = await services(b1);
  t.diagnostic(`first connection (c refused, then ${used}, relayed): ${after.last[SERVICE]?.ms} ms`);
  assert.deepEqual(after.last[SERVICE] && { ...after.last[SERVICE], ms: 0, at: 0 }, {
    node: used,
    path: 'relayed',
    attempts: 2,
    ms: 0,
    at: 0,
  });
  assert.equal(after.wanted[SERVICE]?.find((p) => p.node === 'c')?.penalized, true, 'c is now the last resort');
  const metrics = await b1.host.exec('curl', ['-fsS', '-m', '2', 'http://127.0.0.1:9100/metrics']);
  assert.match(
    metrics.stdout,
    new RegExp(
      `^fedmesh_mesh_service_forward_connections_total\\{path="relayed",result="ok",service="${SERVICE}"\\} 1$`,
      'm',
    ),
  );
  assert.match(
    metrics.stdout,
    new RegExp(`^fedmesh_mesh_service_forward_failovers_total\\{service="${SERVICE}"\\} 1$`, 'm'),
  );
  // The provider logged the tunnel it accepted; c logged its refusal.
  await providers[used]?.waitLog((l) => l.msg === 'tunnel accepted' && l.target === `127.0.0.1:${ECHO_PORT}`, 5_000);
  await c.waitLog((l) => l.msg === 'tunnel request refused' && l.reason === 'dial-failed', 5_000);

  // The provider in use dies: the next connection goes to the other one.
  const other = used === 'a1' ? 'a2' : 'a1';
  providers[used]?.proc.signal('SIGKILL');
  const second = await m.transfer('b1', FWD, 256 << 10).done;
  assert.equal(second.identical, true, JSON.stringify(second));
  const opens = b1.logs().filter((l) => l.msg === 'service connection opened');
  assert.equal(opens.length, 2);
  assert.equal(opens[1]?.node, other);
  const afterKill = (await services(b1)).last[SERVICE];
  assert.equal(afterKill?.node, other);
  t.diagnostic(`after the kill: ${other} in ${afterKill?.ms} ms, ${afterKill?.attempts} attempt(s)`);

  // Hot reload: c advertises another port, then nothing; b1 follows from c's re-signed record.
  c.writeConfig(advertise(ECHO_PORT + 2));
  await until(
    'b1 to see c on its new port',
    async () =>
      (await services(b1)).wanted[SERVICE]?.find((p) => p.node === 'c')?.port === ECHO_PORT + 2 ? true : undefined,
    10_000,
  );
  c.writeConfig(m.config([...relays]));
  await until(
    'b1 to see c no longer advertising',
    async () => ((await services(b1)).wanted[SERVICE]?.some((p) => p.node === 'c') ? undefined : true),
    10_000,
  );
  await c.waitLog((l) => l.msg === 'service no longer advertised' && l.service === SERVICE, 5_000);
});

test('service forward with serviceKeys: an unendorsed provider (a rogue PSK holder on a better path) is never used', async (t) => {
  const m = await createMeshLab({ nodes: ['r1', 'c', 'a1', 'b1'], mapping: 'symmetric' });
  t.after(() => m.destroy());
  const keyFile = join(m.dir, 'service-key');
  const pub = await generateServiceKey(keyFile);
  const relays = ['r1'] as const;
  await m.start('r1', { relays: [...relays] });
  await m.echo('c');
  await m.echo('a1');
  const advertise = { advertise: [{ name: SERVICE, port: ECHO_PORT }] };
  // c serves a working echo on a direct path: without serviceKeys it would be the first choice.
  const c = await m.start('c', { config: m.config([...relays], advertise) });
  await m.start('a1', { config: m.config([...relays], { ...advertise, serviceKeyFile: keyFile }) });
  const trusting = m.config([...relays], { serviceKeys: { [SERVICE]: [pub] } });
  const b1 = await m.start('b1', { config: trusting, forwards: [`${FWD}=@${SERVICE}`] });

  const s = await until(
    'b1 to know a1 and to have ignored c',
    async () => {
      const x = await services(b1);
      return x.wanted[SERVICE]?.length === 1 && x.unendorsed[SERVICE]?.includes('c') ? x : undefined;
    },
    30_000,
  );
  assert.deepEqual(
    s.wanted[SERVICE]?.map((p) => p.node),
    ['a1'],
  );
  const ignored = await b1.waitLog((l) => l.code === 'ERR_NOT_ENDORSED', 1_000);
  assert.equal(ignored.node, 'c');
  for (let i = 0; i < 2; i++) {
    const r = await m.transfer('b1', FWD, 64 << 10).done;
    assert.equal(r.identical, true, JSON.stringify(r));
  }
  assert.deepEqual(
    b1
      .logs()
      .filter((l) => l.msg === 'service connection opened')
      .map((l) => l.node),
    ['a1', 'a1'],
  );
  assert.equal(c.logs().filter((l) => l.msg === 'tunnel accepted').length, 0, 'c never got a connection');

  // serviceKeys is hot-reloaded: without it c is a provider again (and first: a direct path).
  b1.writeConfig(m.config([...relays]));
  await until(
    'b1 to accept c',
    async () => ((await services(b1)).wanted[SERVICE]?.[0]?.node === 'c' ? true : undefined),
    10_000,
  );
});
