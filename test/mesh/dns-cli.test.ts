/**
 * `fedmesh mesh` with `services` and `dns` config sections, as a process against a real
 * kube-apiserver + etcd: the catalog and the resolver start with the node, answer a Service
 * created through the API, forward to a stub upstream, show in /metrics, and stop on SIGTERM.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createKubeRest } from '../../common/kube/rest.ts';
import { freePort } from '../../common/net/ports.ts';
import { spawnManaged } from '../../common/process/index.ts';
import { query, queryBytes, stubUpstream, udpExchange } from '../../mesh/dns/testing.ts';
import { useEnvtest } from '../envtest/index.ts';

const env = useEnvtest();
const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../cli/fedmesh.ts');

function meshProcess(t: TestContext, config: object) {
  const dir = mkdtempSync(join(tmpdir(), 'fm-dns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const psk = join(dir, 'psk');
  const cfg = join(dir, 'mesh.json');
  writeFileSync(cfg, JSON.stringify(config));
  const logFile = join(dir, 'node.log');
  return {
    logFile,
    async start(http: number, port: number) {
      const gen = spawnManaged({ name: 'gen-psk', cmd: process.execPath, args: [CLI, 'mesh', '--generate-psk', psk] });
      assert.equal(await gen.exited, 0);
      const proc = spawnManaged({
        name: 'mesh',
        cmd: process.execPath,
        args: [
          CLI,
          'mesh',
          '--config',
          cfg,
          '--node',
          'solo',
          '--state-dir',
          join(dir, 'state'),
          '--psk-file',
          psk,
          '--listen',
          `127.0.0.1:${port}`,
          '--http-listen',
          `127.0.0.1:${http}`,
          '--no-mdns',
        ],
        logFile,
      });
      t.after(() => proc.stop('SIGKILL'));
      return proc;
    },
  };
}

test('fedmesh mesh runs the catalog and the resolver from its config; SIGTERM stops both', async (t) => {
  const ns = await env.namespace(t);
  const upstream = await stubUpstream((q) => ({
    answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.80' }],
  }));
  t.after(() => upstream.close());
  const [dnsPort, http, port] = [await freePort(), await freePort(), await freePort()];
  const m = meshProcess(t, {
    services: { kubeconfig: env.plane.kubeconfigPath, namespace: ns, clusterDomain: 'edge.example' },
    dns: { listen: [`127.0.0.1:${dnsPort}`], upstreams: [`127.0.0.1:${upstream.port}`] },
  });
  const proc = await m.start(http, port);
  const rest = await createKubeRest(env.kubeConfig());
  t.after(() => rest.close());
  await rest.request('POST', `/api/v1/namespaces/${ns}/services`, {
    body: { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80 }] } },
  });
  const name = `web.${ns}.svc.edge.example`;
  const end = Date.now() + 30_000;
  let answer: string | undefined;
  while (!answer && Date.now() < end) {
    try {
      const p = await query(dnsPort, name, 'A', { timeoutMs: 500 });
      answer = p.answers?.map((a) => ('data' in a ? String(a.data) : ''))[0];
    } catch {
      // Not listening yet.
    }
    if (!answer) await delay(100);
  }
  assert.match(
    answer ?? '',
    /^10\.0\.0\.|^10\.96\./,
    `the Service answered (${readFileSync(m.logFile, 'utf8').slice(-2000)})`,
  );
  const fwd = await query(dnsPort, 'example.com', 'A', { tcp: true });
  assert.deepEqual(
    fwd.answers?.map((a) => ('data' in a ? a.data : '')),
    ['192.0.2.80'],
  );
  const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  assert.match(metrics, /fedmesh_mesh_dns_queries_total\{rcode="NOERROR",transport="udp",type="A"\} \d+/);

  proc.signal('SIGTERM');
  assert.equal(await proc.exited, 0);
  const log = readFileSync(m.logFile, 'utf8');
  assert.match(log, /"dns resolver stopped"/);
  assert.match(log, /"mesh node stopped"/);
  assert.equal(await udpExchange(dnsPort, queryBytes(name, 'A'), 300), undefined, 'the resolver is gone');
});

test('fedmesh mesh refuses a bad dns section and an address it cannot bind, naming the problem', async (t) => {
  const [http, port] = [await freePort(), await freePort()];
  const bad = meshProcess(t, { dns: { listen: ['127.0.0.1:53'], upstreams: ['dns.example'] } });
  const p1 = await bad.start(http, port);
  assert.notEqual(await p1.exited, 0);
  assert.match(readFileSync(bad.logFile, 'utf8'), /dns\.upstreams/);
  const unbindable = meshProcess(t, { dns: { listen: ['192.0.2.1:5353'], upstreams: [] } });
  const p2 = await unbindable.start(await freePort(), await freePort());
  assert.notEqual(await p2.exited, 0);
  assert.match(readFileSync(unbindable.logFile, 'utf8'), /EADDRNOTAVAIL|192\.0\.2\.1/);
});
