/**
 * The renderer against the real keepalived (Debian package): `keepalived -t` inside a network
 * namespace this file creates (interfaces are checked in the namespace `-t` runs in), plus two
 * end-to-end runs that show the VIP following /readyz. Needs root; fails (never skips) without
 * keepalived so CI cannot silently lose this coverage.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { type KeepalivedInit, renderKeepalivedConf, runReadinessFileLoop } from './index.ts';
import { ARBITRARY_INTERFACE, validKeepalivedInit } from './testing/arbitrary.ts';
import { defer } from './testing/defer.ts';
import {
  addresses,
  keepalivedConfigTest,
  requireKeepalived,
  startKeepalived,
  startReadyServer,
  tempDir,
  waitForMatch,
} from './testing/keepalived.ts';
import { readManifest } from './testing/manifest.ts';
import { createNetns, type LinkInit } from './testing/netns.ts';

const LINK: LinkInit = { name: 'kveth0', address: '198.18.0.11/24' };
const VIP = '198.18.0.50/24';

const base: KeepalivedInit = {
  routerId: 'kvh1',
  interface: 'kveth0',
  virtualRouterId: 50,
  priority: 100,
  virtualIps: [VIP],
  readiness: { kind: 'script', url: 'http://127.0.0.1:8080/readyz' },
};
const unicast = { srcIp: '198.18.0.11', peers: ['198.18.0.12', '198.18.0.13'] };
const fileCheck = { kind: 'file', path: '/run/fedmesh/ready' } as const;

test('keepalived is installed', () => {
  // keepalived prints its version to stderr.
  const r = spawnSync(requireKeepalived(), ['--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stderr + r.stdout, /Keepalived v2\./);
});

const valid: { name: string; init: KeepalivedInit }[] = [
  { name: 'script check, multicast', init: base },
  { name: 'script check, unicast', init: { ...base, unicast } },
  { name: 'file check, multicast', init: { ...base, readiness: fileCheck } },
  { name: 'file check, unicast, nopreempt', init: { ...base, readiness: fileCheck, unicast, nopreempt: true } },
  { name: 'script check, nopreempt, priority 254', init: { ...base, nopreempt: true, priority: 254 } },
  { name: 'priority 255 (address owner) without nopreempt', init: { ...base, priority: 255 } },
  { name: 'priority 1 and virtual router id 255', init: { ...base, priority: 1, virtualRouterId: 255 } },
  {
    name: 'VRRPv2 with 1 s adverts and a custom instance name',
    init: { ...base, vrrpVersion: 2, advertIntSeconds: 1, instanceName: 'GM_VIP' },
  },
  { name: 'VRRPv3 minimum advert 0.01 s', init: { ...base, advertIntSeconds: 0.01 } },
  { name: 'VRRPv3 maximum advert 40.95 s', init: { ...base, advertIntSeconds: 40.95 } },
  {
    name: 'script check at its maximums',
    init: {
      ...base,
      readiness: {
        kind: 'script',
        url: 'http://127.0.0.1:8080/readyz',
        intervalSeconds: 4294,
        timeoutSeconds: 4294,
        fall: 2_147_483_647,
        rise: 2_147_483_647,
      },
    },
  },
  {
    name: 'several VIPs with and without prefix',
    init: { ...base, virtualIps: ['198.18.0.50/24', '198.18.0.51', '198.18.1.5/23'] },
  },
  { name: 'unusual but valid interface name', init: { ...base, interface: 'e-0.1_x' } },
];

for (const c of valid) {
  test(`keepalived -t accepts: ${c.name}`, async (t) => {
    const netns = createNetns(t, [{ ...LINK, name: c.init.interface }]);
    const r = await keepalivedConfigTest(t, netns, renderKeepalivedConf(c.init));
    assert.equal(r.exitCode, 0, r.output);
    assert.equal(r.output, '', 'a valid rendering draws no warnings');
  });
}

const good = renderKeepalivedConf(base);
const broken: { name: string; conf: string }[] = [
  { name: 'misspelled keyword', conf: good.replace('advert_int', 'advert_intt') },
  { name: 'missing closing brace', conf: good.replace(/}\n$/, '') },
  { name: 'fractional script interval', conf: good.replace('interval 1', 'interval 0.5') },
  { name: 'sub-second advert with VRRPv2', conf: good.replace('version 3', 'version 2') },
  { name: 'interface absent from the namespace', conf: good.replaceAll('kveth0', 'kvnope0') },
  { name: 'VIP octet 500', conf: good.replace('198.18.0.50/24', '198.18.0.500/24') },
  { name: 'script security not enabled', conf: good.replace('    enable_script_security\n', '') },
  { name: 'nopreempt with priority 255', conf: good.replace('priority 100', 'priority 255\n    nopreempt') },
  { name: 'virtual router id 256', conf: good.replace('virtual_router_id 50', 'virtual_router_id 256') },
];

for (const c of broken) {
  test(`keepalived -t rejects: ${c.name}`, async (t) => {
    assert.notEqual(c.conf, good, 'the case must actually change the config');
    const netns = createNetns(t, [LINK]);
    const r = await keepalivedConfigTest(t, netns, c.conf);
    assert.equal(typeof r.exitCode, 'number', `keepalived died by a signal: ${r.exitCode}`);
    assert.notEqual(r.exitCode, 0, r.output);
  });
}

for (const [file, conf] of readManifest().configs) {
  test(`keepalived -t accepts keepalived.yaml's ${file}`, async (t) => {
    const netns = createNetns(t, [{ ...LINK, name: 'eth0' }]);
    const r = await keepalivedConfigTest(t, netns, conf);
    assert.equal(r.exitCode, 0, r.output);
    assert.equal(r.output, '');
  });
}

test('property: keepalived -t accepts every generated valid rendering', async (t) => {
  const netns = createNetns(t, [{ ...LINK, name: ARBITRARY_INTERFACE }]);
  await fc.assert(
    fc.asyncProperty(validKeepalivedInit, async (init) => {
      const r = await keepalivedConfigTest(t, netns, renderKeepalivedConf(init));
      assert.equal(r.exitCode, 0, r.output);
      assert.equal(r.output, '');
    }),
    { numRuns: 60 },
  );
});

const hasVip = (netns: string): boolean => addresses(netns, LINK.name).includes(VIP);

test('with the manifest capabilities, a script check keeps the VIP off until /readyz answers 200', async (t) => {
  const netns = createNetns(t, [LINK]);
  const ka = startKeepalived(t, netns, renderKeepalivedConf(base), readManifest().capabilities);
  // curl exit 7: connection refused, nothing listens yet.
  await waitForMatch(ka.log, /VRRP_Script\(chk_ready\) failed/, 5_000);
  // A lone node with 0.1 s adverts would be MASTER about 1 s after start, were the check ignored.
  await sleep(1_500);
  assert.doesNotMatch(ka.log(), /Entering MASTER STATE/);
  assert.ok(!hasVip(netns));

  const server = startReadyServer(t, netns, 8080);
  await waitForMatch(ka.log, /Entering MASTER STATE/, 5_000);
  await waitForMatch(() => addresses(netns, LINK.name), /198\.18\.0\.50\/24/, 2_000);

  await server.stop('SIGKILL');
  await waitForMatch(ka.log, /Entering FAULT STATE/, 5_000);
  await waitForMatch(() => (hasVip(netns) ? '' : 'gone'), /gone/, 2_000);
});

test('a file check fed by runReadinessFileLoop moves the VIP with /readyz', async (t) => {
  const netns = createNetns(t, [LINK]);
  const path = join(tempDir(t), 'ready');
  let status = 503;
  const server = createServer((_req, res) => {
    res.statusCode = status;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  const ac = new AbortController();
  const loop = runReadinessFileLoop({ url, path, signal: ac.signal });
  defer(t, () => {
    ac.abort();
    return loop;
  });

  const conf = renderKeepalivedConf({ ...base, readiness: { kind: 'file', path } });
  const ka = startKeepalived(t, netns, conf, readManifest().capabilities);
  await sleep(1_500);
  assert.doesNotMatch(ka.log(), /Entering MASTER STATE/);
  assert.ok(!hasVip(netns));

  status = 200;
  await waitForMatch(ka.log, /Entering MASTER STATE/, 5_000);
  await waitForMatch(() => addresses(netns, LINK.name), /198\.18\.0\.50\/24/, 2_000);

  status = 503;
  await waitForMatch(ka.log, /Entering FAULT STATE/, 5_000);
  await waitForMatch(() => (hasVip(netns) ? '' : 'gone'), /gone/, 2_000);
});
