/**
 * keepalived for real: three GM replicas, each in its own network namespace with keepalived
 * running the rendered configuration; the VIP follows the elected leader's /readyz.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { sleep } from '../../common/async.ts';
import { renderKeepalivedConf } from '../../deploy/keepalived/index.ts';
import { addresses, startKeepalived } from '../../deploy/keepalived/testing/keepalived.ts';
import { readManifest } from '../../deploy/keepalived/testing/manifest.ts';
import { createLab, type Host } from '../../netlab/index.ts';
import { startControlPlane } from '../envtest/index.ts';

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');
const VIP = '198.18.0.50';
const GMS = [
  { name: 'gm1', ip: '198.18.0.11', priority: 100 },
  { name: 'gm2', ip: '198.18.0.12', priority: 99 },
  { name: 'gm3', ip: '198.18.0.13', priority: 98 },
];

/** Who answers on the VIP, as seen from the client host: the replica id header, or undefined. */
async function throughVip(client: Host): Promise<string | undefined> {
  const r = await client.exec('curl', ['-sS', '-m', '0.5', '-o', '/dev/null', '-D', '-', `http://${VIP}:8080/readyz`]);
  if (r.code !== 0 || !/^HTTP\/1\.1 200/m.test(r.stdout)) return undefined;
  return /^x-fedmesh-replica: (\S+)/im.exec(r.stdout)?.[1];
}

function vipHolder(hosts: Host[]): string[] {
  return hosts.filter((h) => addresses(h.ns, 'eth0').includes(`${VIP}/24`)).map((h) => h.name);
}

async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

test('the VIP sits on the leader and follows it when the leader is killed', async (t) => {
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.addSegment('lan');
  // The API server listens on the lab segment, so replicas inside their namespaces reach it.
  const root = await lab.attachRoot('lan', '198.18.0.254/24');
  const plane = await startControlPlane({ bindAddress: root.ip });
  t.after(() => plane.stop());
  const namespace = 'ha-vip';
  await plane
    .kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: namespace } } });

  const client = await lab.addHost('c1', { links: [{ segment: 'lan', address: '198.18.0.100/24' }] });
  const hosts: Host[] = [];
  const gms = new Map<string, ReturnType<Host['spawn']>>();
  for (const g of GMS) {
    const host = await lab.addHost(g.name, { links: [{ segment: 'lan', address: `${g.ip}/24` }] });
    hosts.push(host);
    gms.set(
      g.name,
      host.spawn({
        name: `gm ${g.name}`,
        cmd: process.execPath,
        args: [
          CLI,
          'gm',
          '--kubeconfig',
          plane.kubeconfigPath,
          '--id',
          g.name,
          '--lease-namespace',
          namespace,
          '--lease-duration',
          '2s',
          '--renew-deadline',
          '1500ms',
          '--retry-period',
          '500ms',
          '--http-listen',
          '0.0.0.0:8080',
          '--readyz',
          'leader',
        ],
        logFile: join(plane.dir, `${g.name}.log`),
      }),
    );
    const conf = renderKeepalivedConf({
      routerId: g.name,
      interface: 'eth0',
      virtualRouterId: 50,
      priority: g.priority,
      advertIntSeconds: 0.1,
      unicast: { srcIp: g.ip, peers: GMS.filter((o) => o !== g).map((o) => o.ip) },
      virtualIps: [`${VIP}/24`],
      readiness: {
        kind: 'script',
        url: 'http://127.0.0.1:8080/readyz',
        intervalSeconds: 1,
        timeoutSeconds: 1,
        fall: 1,
        rise: 1,
      },
    });
    startKeepalived(t, host.ns, conf, readManifest().capabilities);
  }

  const first = await eventually('a leader answers through the VIP', 20_000, () => throughVip(client));
  assert.deepEqual(vipHolder(hosts), [first], 'the VIP is on the leader, and only there');

  // Kill the leader's GM process: its /readyz stops answering, keepalived drops the VIP, the
  // new leader's keepalived takes it.
  gms.get(first)?.signal('SIGKILL');
  const second = await eventually('a new leader answers through the VIP', 15_000, async () => {
    const who = await throughVip(client);
    return who !== undefined && who !== first ? who : undefined;
  });
  assert.deepEqual(vipHolder(hosts), [second]);

  // A graceful stop hands the lease over at once; the VIP follows.
  gms.get(second)?.signal('SIGTERM');
  const third = await eventually('the last replica answers through the VIP', 15_000, async () => {
    const who = await throughVip(client);
    return who !== undefined && who !== first && who !== second ? who : undefined;
  });
  assert.deepEqual(vipHolder(hosts), [third]);
});
