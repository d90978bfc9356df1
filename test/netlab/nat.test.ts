import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLab, type Host } from '../../netlab/index.ts';

/** Answers every connection with the remote address and port it sees, then closes. */
const OBSERVER = `require('node:net').createServer((s) => { s.on('error', () => {}); s.end(s.remoteAddress + ':' + s.remotePort); }).listen(9000, '0.0.0.0')`;

/** Connects from a fixed local port and prints what the server saw (or the error code). */
const client = (host: string, localPort: number, timeoutMs = 1500) => `
const s = require('node:net').connect({ host: '${host}', port: 9000, localPort: ${localPort} });
let out = '';
s.setTimeout(${timeoutMs}, () => { console.log('TIMEOUT'); process.exit(0); });
s.on('data', (d) => (out += d));
s.on('end', () => { console.log(out); process.exit(0); });
s.on('error', (e) => { console.log(e.code); process.exit(0); });`;

async function observe(from: Host, host: string, localPort: number, timeoutMs?: number): Promise<string> {
  const r = await from.exec(process.execPath, ['-e', client(host, localPort, timeoutMs)]);
  return r.stdout.trim();
}

async function waitFor(from: Host, host: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await observe(from, host, 0)).includes(':')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no observer at ${host}`);
}

/** Median TCP connect time (one round trip) from `from` to host:9000, in ms. */
async function rtt(from: Host, host: string): Promise<number> {
  const script = `
const net = require('node:net'); const out = [];
(async () => { for (let i = 0; i < 5; i++) { const t0 = performance.now();
  await new Promise((res) => { const s = net.connect(9000, '${host}', () => { out.push(performance.now() - t0); s.destroy(); res(); });
    s.on('error', () => { out.push(-1); res(); }); }); }
  out.sort((a, b) => a - b); console.log(out[2]); })();`;
  return Number((await from.exec(process.execPath, ['-e', script])).stdout.trim());
}

for (const mapping of ['endpoint-independent', 'symmetric'] as const) {
  test(`NAT router, ${mapping} mapping: outbound works, mapping as configured, unsolicited inbound dropped`, async (t) => {
    const lab = await createLab();
    t.after(() => lab.destroy());
    await lab.addSegment('pub');
    await lab.addSegment('lan');
    await lab.addRouter('r', {
      inside: { segment: 'lan', address: '198.18.1.1/24' },
      outside: { segment: 'pub', address: '198.18.0.1/24' },
      mapping,
    });
    const a = await lab.addHost('a', { links: [{ segment: 'lan', address: '198.18.1.10/24' }], gateway: '198.18.1.1' });
    const s1 = await lab.addHost('s1', { links: [{ segment: 'pub', address: '198.18.0.10/24' }] });
    const s2 = await lab.addHost('s2', { links: [{ segment: 'pub', address: '198.18.0.20/24' }] });
    for (const s of [s1, s2]) s.spawn({ name: 'observer', cmd: process.execPath, args: ['-e', OBSERVER] });
    await waitFor(a, '198.18.0.10');
    await waitFor(a, '198.18.0.20');

    const seen1 = await observe(a, '198.18.0.10', 40_000);
    const seen2 = await observe(a, '198.18.0.20', 40_000);
    const [ip1, port1] = seen1.split(':');
    const [ip2, port2] = seen2.split(':');
    assert.equal(ip1, '198.18.0.1', 'the server sees the router, not the inside host');
    assert.equal(ip2, '198.18.0.1');
    if (mapping === 'endpoint-independent') assert.equal(port1, port2, 'one mapping for every destination');
    else assert.notEqual(port1, port2, 'a new mapping per destination');

    // A public host cannot open a connection to the inside, not even to a port mapped a moment ago.
    s1.spawn({ name: 'inside-listener', cmd: process.execPath, args: ['-e', OBSERVER] });
    a.spawn({ name: 'inside-observer', cmd: process.execPath, args: ['-e', OBSERVER] });
    assert.equal(await observe(s2, '198.18.0.1', 0, 800), 'TIMEOUT');
  });
}

test('link shaping: delay adds round-trip time, full loss cuts, clearing restores', async (t) => {
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.addSegment('pub');
  const a = await lab.addHost('a', { links: [{ segment: 'pub', address: '198.18.0.10/24' }] });
  const b = await lab.addHost('b', { links: [{ segment: 'pub', address: '198.18.0.20/24' }] });
  b.spawn({ name: 'observer', cmd: process.execPath, args: ['-e', OBSERVER] });
  await waitFor(a, '198.18.0.20');
  const base = await rtt(a, '198.18.0.20');
  await b.shape('pub', { delayMs: 60 });
  const delayed = await rtt(a, '198.18.0.20');
  assert.ok(delayed >= 55 && delayed > base + 40, `rtt ${delayed} ms with 60 ms delay (base ${base} ms)`);
  await b.shape('pub', { lossPct: 100 });
  assert.equal(await observe(a, '198.18.0.20', 0, 800), 'TIMEOUT');
  await b.shape('pub', {});
  const after = await rtt(a, '198.18.0.20');
  assert.ok(after < 30, `rtt ${after} ms after clearing`);
  await assert.rejects(b.shape('pub', { lossPct: 120 }), { code: 'ERR_CONFIG' });
});
