import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLab, labNamespaces } from '../../netlab/index.ts';

/** A tiny HTTP server for inside a host: answers its own name. */
const SERVER = `require('node:http').createServer((q, s) => s.end(process.argv[1])).listen(8080, '0.0.0.0')`;

async function reachable(from: ReturnType<Awaited<ReturnType<typeof createLab>>['host']>, url: string) {
  const r = await from.exec('curl', ['-fsS', '-m', '1', url]);
  return r.code === 0 ? r.stdout : undefined;
}

test('two hosts: reach, cut the link, restore it; nothing is left afterwards', async (t) => {
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.addSegment('lan');
  const a = await lab.addHost('a', { links: [{ segment: 'lan', address: '198.18.0.1/24' }] });
  const b = await lab.addHost('b', { links: [{ segment: 'lan', address: '198.18.0.2/24' }] });
  const srv = a.spawn({ name: 'http', cmd: process.execPath, args: ['-e', SERVER, 'host-a'] });

  let body: string | undefined;
  for (let i = 0; i < 50 && body === undefined; i++) {
    body = await reachable(b, 'http://198.18.0.1:8080/');
    if (body === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(body, 'host-a');

  await b.cutLink();
  assert.equal(await reachable(b, 'http://198.18.0.1:8080/'), undefined);
  await b.restoreLink();
  let back: string | undefined;
  for (let i = 0; i < 30 && back === undefined; i++) back = await reachable(b, 'http://198.18.0.1:8080/');
  assert.equal(back, 'host-a');

  // Killing a process inside a host is observable and final.
  srv.signal('SIGKILL');
  await srv.exited;
  assert.equal(await reachable(b, 'http://198.18.0.1:8080/'), undefined);

  await lab.destroy();
  assert.deepEqual(
    (await labNamespaces()).filter((n) => n.startsWith(`fm${lab.id}-`)),
    [],
  );
});

test('addresses outside 198.18.0.0/15 and unknown segments are refused, creating nothing', async (t) => {
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.addSegment('lan');
  await assert.rejects(lab.addHost('x', { links: [{ segment: 'lan', address: '10.0.0.1/24' }] }), {
    code: 'ERR_CONFIG',
  });
  await assert.rejects(lab.addHost('y', { links: [{ segment: 'nope', address: '198.18.0.9/24' }] }), {
    code: 'ERR_CONFIG',
  });
  assert.deepEqual(
    (await labNamespaces()).filter((n) => n.startsWith(`fm${lab.id}-`)),
    [`fm${lab.id}-sw`],
  );
});

test('a router forwards between two segments', async (t) => {
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.addSegment('left');
  await lab.addSegment('right');
  await lab.addHost('r', {
    links: [
      { segment: 'left', address: '198.18.1.1/24' },
      { segment: 'right', address: '198.18.2.1/24' },
    ],
    forwarding: true,
  });
  const a = await lab.addHost('a', { links: [{ segment: 'left', address: '198.18.1.10/24' }], gateway: '198.18.1.1' });
  const b = await lab.addHost('b', { links: [{ segment: 'right', address: '198.18.2.10/24' }], gateway: '198.18.2.1' });
  b.spawn({ name: 'http', cmd: process.execPath, args: ['-e', SERVER, 'host-b'] });
  let body: string | undefined;
  for (let i = 0; i < 50 && body === undefined; i++) {
    body = await reachable(a, 'http://198.18.2.10:8080/');
    if (body === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(body, 'host-b');
});

test('the root namespace can join a segment: hosts reach a server the test runs', async (t) => {
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.addSegment('lan');
  const root = await lab.attachRoot('lan', '198.18.0.254/24');
  const a = await lab.addHost('a', { links: [{ segment: 'lan', address: '198.18.0.1/24' }] });
  const { createServer } = await import('node:http');
  const srv = createServer((_q, s) => s.end('root')).listen(0, root.ip);
  t.after(() => srv.close());
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as { port: number }).port;
  let body: string | undefined;
  for (let i = 0; i < 30 && body === undefined; i++) body = await reachable(a, `http://${root.ip}:${port}/`);
  assert.equal(body, 'root');
  await lab.destroy();
  const { execFileSync } = await import('node:child_process');
  assert.doesNotMatch(execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' }), new RegExp(root.dev));
});
