import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSteering, type Runner, renderIptables, renderNft, type SteerRule } from './rules.ts';

const rules: SteerRule[] = [
  { clusterIP: 'fd00::10', port: 53, protocol: 'UDP', localPort: 40002 },
  { clusterIP: '10.96.0.10', port: 80, protocol: 'TCP', localPort: 40001 },
  { clusterIP: '10.96.0.10', port: 53, protocol: 'UDP', localPort: 40003 },
];

test('nft: one table replaced atomically, rules sorted, per family', () => {
  assert.equal(
    renderNft(rules),
    [
      'table inet fedmesh',
      'delete table inet fedmesh',
      'table inet fedmesh {',
      '  chain output {',
      '    type nat hook output priority -100; policy accept;',
      '    ip daddr 10.96.0.10 udp dport 53 redirect to :40003',
      '    ip daddr 10.96.0.10 tcp dport 80 redirect to :40001',
      '    ip6 daddr fd00::10 udp dport 53 redirect to :40002',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
});

test('iptables: one chain per family, flushed and filled', () => {
  assert.equal(
    renderIptables(rules, 4),
    [
      '*nat',
      ':FEDMESH-SERVICES - [0:0]',
      '-F FEDMESH-SERVICES',
      '-A FEDMESH-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 40003',
      '-A FEDMESH-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40001',
      'COMMIT',
      '',
    ].join('\n'),
  );
  assert.match(renderIptables(rules, 6), /-d fd00::10\/128 -p udp -m udp --dport 53 -j REDIRECT --to-ports 40002/);
});

test('a rule that is not an IP and ports is refused before any script is run', () => {
  for (const bad of [
    { clusterIP: '10.0.0.1; flush ruleset', port: 80, protocol: 'TCP', localPort: 1 },
    { clusterIP: '10.0.0.1', port: 0, protocol: 'TCP', localPort: 1 },
    { clusterIP: '10.0.0.1', port: 80, protocol: 'SCTP', localPort: 1 },
  ] as SteerRule[]) {
    assert.throws(() => renderNft([bad]), { code: 'ERR_STEERING_FAILED' });
  }
});

test('backend choice: nft when it runs, iptables when only it runs, a clear error with neither', async () => {
  const calls: string[] = [];
  const runner =
    (present: string[]): Runner =>
    async (cmd, args) => {
      calls.push(`${cmd} ${args.join(' ')}`);
      if (!present.includes(cmd)) throw Object.assign(new Error('ENOENT'), { stderr: 'not found' });
      // No jump to our chain yet: the check fails, so it is inserted.
      if (args.includes('-C')) throw Object.assign(new Error('exit 1'), { stderr: 'no such rule' });
    };
  assert.equal((await createSteering('auto', runner(['nft']))).backend, 'nft');
  const ipt = await createSteering('auto', runner(['iptables-restore', 'iptables']));
  assert.equal(ipt.backend, 'iptables');
  calls.length = 0;
  await ipt.apply(rules);
  assert.deepEqual(calls, [
    'iptables-restore --noflush',
    'iptables -t nat -C OUTPUT -j FEDMESH-SERVICES',
    'iptables -t nat -I OUTPUT -j FEDMESH-SERVICES',
  ]);
  await assert.rejects(createSteering('auto', runner([])), { name: 'SteeringError', code: 'ERR_NO_STEERING' });
  await assert.rejects(createSteering('nft', runner(['iptables-restore'])), { code: 'ERR_NO_STEERING' });
  const failing = await createSteering('nft', async (_cmd, args) => {
    if (args[0] === '-f') throw Object.assign(new Error('exit 1'), { stderr: 'Error: syntax error' });
  });
  await assert.rejects(failing.apply(rules), { code: 'ERR_STEERING_FAILED', message: /syntax error/ });
});
