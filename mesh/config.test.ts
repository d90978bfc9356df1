import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../common/log.ts';
import { type MeshConfig, parseConfig, watchConfig } from './config.ts';

test('config: YAML and JSON in the EdgeMesh shape parse', async () => {
  const yaml = `
nodeName: edge-a1
pskFile: /etc/fedmesh/psk
listen: 0.0.0.0:20006
mdns: false
relayNodes:
  - nodeName: relay-1
    advertiseAddress: [198.18.0.11]
  - nodeName: relay-2
    advertiseAddress: ["198.18.0.12:20007"]
tunnel:
  allow: [127.0.0.0/8]
`;
  const cfg = await parseConfig(yaml);
  assert.equal(cfg.relayNodes?.[1]?.advertiseAddress[0], '198.18.0.12:20007');
  assert.equal(cfg.mdns, false);
  assert.deepEqual(await parseConfig(JSON.stringify(cfg)), cfg);
  assert.deepEqual(await parseConfig(''), {});
  const svc = await parseConfig(
    'advertise: [{name: fedmesh-gm, port: 9000}, {name: other, port: 80, host: "::1"}]\nforward: ["127.0.0.1:19000=@fedmesh-gm", "8022=b1:127.0.0.1:22"]',
  );
  assert.deepEqual(svc.advertise, [
    { name: 'fedmesh-gm', port: 9000 },
    { name: 'other', port: 80, host: '::1' },
  ]);
  assert.equal(svc.forward?.length, 2);
  const keys = await parseConfig(`serviceKeyFile: /k\nserviceKeys: {fedmesh-gm: ["ed25519:${'A'.repeat(43)}"]}`);
  assert.equal(keys.serviceKeys?.['fedmesh-gm']?.length, 1);
  const health = await parseConfig('zone: lan-a\nhealth: {period: 500ms, window: 1500ms, zones: {enabled: true}}');
  assert.equal(health.zone, 'lan-a');
  assert.equal(health.health?.period, '500ms');
});

test('config: invalid files are ConfigErrors', async () => {
  const cases = [
    { name: 'unknown key', text: 'relays: []' },
    { name: 'bad node name', text: 'nodeName: Edge_A1' },
    { name: 'relay without address', text: 'relayNodes: [{nodeName: r1, advertiseAddress: []}]' },
    {
      name: 'duplicate relay',
      text: 'relayNodes: [{nodeName: r1, advertiseAddress: [a]}, {nodeName: r1, advertiseAddress: [b]}]',
    },
    { name: 'listen without port', text: 'listen: 0.0.0.0' },
    { name: 'mdns not boolean', text: 'mdns: sometimes' },
    { name: 'not YAML', text: 'a: [b' },
    { name: 'unknown tunnel key', text: 'tunnel: {deny: []}' },
    { name: 'health timeout not below period', text: 'health: {period: 1s, timeout: 1s}' },
    { name: 'unknown health key', text: 'health: {periodMs: 1000}' },
    { name: 'zone not a label value', text: 'zone: "-a"' },
    { name: 'advertise without port', text: 'advertise: [{name: fedmesh-gm}]' },
    { name: 'advertise bad name', text: 'advertise: [{name: GM_1, port: 9000}]' },
    { name: 'advertise host not an IP', text: 'advertise: [{name: gm, port: 9000, host: gm.sedna}]' },
    { name: 'advertise port out of range', text: 'advertise: [{name: gm, port: 70000}]' },
    { name: 'advertise twice', text: 'advertise: [{name: gm, port: 9000}, {name: gm, port: 9001}]' },
    { name: 'advertise unknown key', text: 'advertise: [{name: gm, port: 9000, proto: udp}]' },
    { name: 'forward malformed', text: 'forward: ["19000=gm"]' },
    { name: 'forward bad service', text: 'forward: ["19000=@GM"]' },
    { name: 'serviceKeys bad key', text: 'serviceKeys: {fedmesh-gm: ["rsa:abc"]}' },
    { name: 'serviceKeys bad service', text: `serviceKeys: {GM_1: ["ed25519:${'A'.repeat(43)}"]}` },
    { name: 'serviceKeys empty list', text: 'serviceKeys: {fedmesh-gm: []}' },
  ];
  for (const c of cases) await assert.rejects(parseConfig(c.text), { code: 'ERR_CONFIG' }, c.name);
});

test('config: a watched file is reloaded on change (also when replaced) and on SIGHUP; invalid edits are ignored', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-cfg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'mesh.yaml');
  await writeFile(path, 'relayNodes: []\n');
  const lines: Array<{ msg: string }> = [];
  const log = createLogger({
    component: 'test',
    level: 'debug',
    destination: new Writable({
      write(chunk, _e, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    }),
  });
  const seen: MeshConfig[] = [];
  const ac = new AbortController();
  const done = watchConfig(path, await parseConfig('relayNodes: []'), (c) => seen.push(c), log, ac.signal);
  t.after(() => ac.abort());
  const until = async (n: number) => {
    for (let i = 0; i < 100 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen.length, n);
  };
  await writeFile(path, 'relayNodes: [{nodeName: r3, advertiseAddress: [198.18.0.13]}]\n');
  await until(1);
  assert.equal(seen[0]?.relayNodes?.[0]?.nodeName, 'r3');
  await writeFile(path, 'relayNodes: [{nodeName: BAD}]\n');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(seen.length, 1);
  assert.ok(lines.some((l) => l.msg.startsWith('configuration not reloaded')));
  // An editor's atomic replace.
  await writeFile(join(dir, 'tmp'), 'relayNodes: []\nmdns: false\n');
  await rename(join(dir, 'tmp'), path);
  await until(2);
  assert.ok(lines.some((l) => l.msg.startsWith('configuration keys changed that take effect only after a restart')));
  // SIGHUP re-reads even without a file event; unchanged content is not reported again.
  process.kill(process.pid, 'SIGHUP');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(seen.length, 2);
  ac.abort();
  await done;
});
