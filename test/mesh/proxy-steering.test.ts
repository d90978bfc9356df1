/**
 * The steering backends against the kernel, in a namespace of their own: nft and the iptables
 * fallback each install their rules (one per ClusterIP:port, IPv4 and IPv6), replace them, and
 * leave nothing after clear — run twice (clear of nothing is not an error).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLab } from '../../netlab/index.ts';

const SCRIPT = join(import.meta.dirname, 'proxy-steering-run.ts');

test('steering: nft and iptables install, replace and remove exactly their rules', async (t) => {
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.addSegment('lan');
  const h = await lab.addHost('s', { links: [{ segment: 'lan', address: '198.18.0.1/24' }] });
  const run = async (backend: string, step: string) => {
    const r = await h.exec(process.execPath, [SCRIPT, backend, step]);
    assert.equal(r.code, 0, `${backend} ${step}: ${r.stderr}`);
  };
  const nft = async () => (await h.exec('nft', ['list', 'ruleset'])).stdout;
  const ipt = async () =>
    (await h.exec('iptables', ['-t', 'nat', '-S'])).stdout + (await h.exec('ip6tables', ['-t', 'nat', '-S'])).stdout;

  await run('nft', 'two');
  let text = await nft();
  assert.equal(text.match(/redirect to :/g)?.length, 3, text);
  assert.match(text, /ip daddr 10\.96\.0\.10 tcp dport 80 redirect to :40001/);
  assert.match(text, /ip6 daddr fd00::10 udp dport 53 redirect to :40002/);
  await run('nft', 'one');
  text = await nft();
  assert.equal(text.match(/redirect to :/g)?.length, 1, `replaced, not added:\n${text}`);
  await run('nft', 'clear');
  await run('nft', 'clear');
  assert.doesNotMatch(await nft(), /fedmesh/);

  await run('iptables', 'two');
  text = await ipt();
  assert.match(text, /-A OUTPUT -j FEDMESH-SERVICES/);
  assert.match(text, /-A FEDMESH-SERVICES -d 10\.96\.0\.10\/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40001/);
  assert.match(text, /-A FEDMESH-SERVICES -d fd00::10\/128 -p udp -m udp --dport 53 -j REDIRECT --to-ports 40002/);
  await run('iptables', 'one');
  text = await ipt();
  assert.equal(text.match(/REDIRECT/g)?.length, 1, `replaced, not added:\n${text}`);
  assert.equal(text.match(/-A OUTPUT -j FEDMESH-SERVICES/g)?.length, 2, 'one jump per family');
  await run('iptables', 'clear');
  await run('iptables', 'clear');
  assert.doesNotMatch(await ipt(), /FEDMESH/);
});
