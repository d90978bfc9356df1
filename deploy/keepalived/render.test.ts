import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../../common/errors.ts';
import { type KeepalivedInit, renderKeepalivedConf, validateKeepalivedInit } from './index.ts';
import { validKeepalivedInit } from './testing/arbitrary.ts';
import { manifestNodeOptions, readManifest } from './testing/manifest.ts';

const base: KeepalivedInit = {
  routerId: 'kvh1',
  interface: 'kveth0',
  virtualRouterId: 50,
  priority: 100,
  virtualIps: ['198.18.0.50/24'],
  readiness: { kind: 'script', url: 'http://127.0.0.1:8080/readyz' },
};

const unicast = { srcIp: '198.18.0.11', peers: ['198.18.0.12', '198.18.0.13'] };

/** Asserts that each expected line occurs (trimmed, exactly) in `text`, in this order. */
function assertLinesInOrder(text: string, expected: string[]): void {
  const lines = text.split('\n').map((l) => l.trim());
  let at = 0;
  for (const want of expected) {
    const found = lines.indexOf(want, at);
    assert.ok(found >= 0, `missing (in order) line: ${want}\n---\n${text}`);
    at = found + 1;
  }
}

test('the default script rendering is exactly the known-good config', () => {
  const text = renderKeepalivedConf({ ...base, unicast });
  assert.equal(
    text,
    `# Rendered by fedmesh deploy/keepalived. Gate every change on: keepalived -t -f <this file>
global_defs {
    router_id kvh1
    script_user root
    enable_script_security
}
vrrp_script chk_ready {
    script "/usr/bin/curl -fsS -o /dev/null -m 1 http://127.0.0.1:8080/readyz"
    interval 1
    timeout 1
    fall 1
    rise 1
    # no weight: a failing check puts the instance in FAULT and drops the VIP
}
vrrp_instance VI_1 {
    state BACKUP
    interface kveth0
    virtual_router_id 50
    priority 100
    version 3
    advert_int 0.1
    unicast_src_ip 198.18.0.11
    unicast_peer {
        198.18.0.12
        198.18.0.13
    }
    virtual_ipaddress {
        198.18.0.50/24 dev kveth0
    }
    track_script {
        chk_ready
    }
}
`,
  );
});

const renderings: { name: string; init: KeepalivedInit; lines: string[]; absent: string[] }[] = [
  {
    name: 'script check with explicit timing renders curl -m from timeoutSeconds',
    init: {
      ...base,
      readiness: {
        kind: 'script',
        url: 'https://gm.local:8443/readyz',
        intervalSeconds: 3,
        timeoutSeconds: 2,
        fall: 2,
        rise: 4,
      },
    },
    lines: [
      'script "/usr/bin/curl -fsS -o /dev/null -m 2 https://gm.local:8443/readyz"',
      'interval 3',
      'timeout 2',
      'fall 2',
      'rise 4',
    ],
    absent: ['weight'],
  },
  {
    name: 'multicast renders no unicast lines',
    init: base,
    lines: ['state BACKUP', 'interface kveth0', 'virtual_ipaddress {', '198.18.0.50/24 dev kveth0'],
    absent: ['unicast_src_ip', 'unicast_peer {', 'nopreempt'],
  },
  {
    name: 'file check renders track_file with weight 0 and init_file, and no script settings',
    init: { ...base, readiness: { kind: 'file', path: '/run/fedmesh/ready' } },
    lines: [
      'global_defs {',
      'router_id kvh1',
      '}',
      'track_file ready_file {',
      'file "/run/fedmesh/ready"',
      'weight 0',
      'init_file 1 overwrite',
      '}',
      'vrrp_instance VI_1 {',
      'track_file {',
      'ready_file',
      '}',
    ],
    absent: ['script_user root', 'enable_script_security', 'vrrp_script chk_ready {', 'track_script {'],
  },
  {
    name: 'nopreempt, custom instance name and several VIPs in the given order',
    init: {
      ...base,
      instanceName: 'GM_VIP',
      nopreempt: true,
      virtualIps: ['198.18.0.61', '198.18.0.60/32', '198.18.1.5/23'],
    },
    lines: [
      'vrrp_instance GM_VIP {',
      'state BACKUP',
      'nopreempt',
      '198.18.0.61 dev kveth0',
      '198.18.0.60/32 dev kveth0',
      '198.18.1.5/23 dev kveth0',
    ],
    absent: ['vrrp_instance VI_1 {'],
  },
  {
    name: 'VRRPv2 renders whole-second adverts',
    init: { ...base, vrrpVersion: 2, advertIntSeconds: 1 },
    lines: ['version 2', 'advert_int 1'],
    absent: ['version 3'],
  },
  {
    name: 'VRRPv3 limits render without float noise',
    init: { ...base, advertIntSeconds: 0.07 },
    lines: ['version 3', 'advert_int 0.07'],
    absent: [],
  },
  {
    name: 'VRRPv3 maximum advert',
    init: { ...base, advertIntSeconds: 40.95 },
    lines: ['advert_int 40.95'],
    absent: [],
  },
];

for (const c of renderings) {
  test(`render: ${c.name}`, () => {
    const text = renderKeepalivedConf(c.init);
    assertLinesInOrder(text, c.lines);
    const lines = text.split('\n').map((l) => l.trim());
    for (const a of c.absent) assert.ok(!lines.some((l) => l.startsWith(a)), `unexpected line starting ${a}`);
    assert.ok(!text.includes('vrrp_strict'), 'vrrp_strict must never be rendered');
    assert.ok(text.endsWith('}\n'));
  });
}

test('unicast peers are rendered one per line', () => {
  const peers = ['198.18.0.12', '198.18.0.13', '198.18.0.14'];
  const text = renderKeepalivedConf({ ...base, unicast: { srcIp: '198.18.0.11', peers } });
  const lines = text.split('\n');
  const open = lines.indexOf('    unicast_peer {');
  assert.deepEqual(lines.slice(open + 1, open + 5), [...peers.map((p) => `        ${p}`), '    }']);
});

test('rendering is deterministic and does not modify its input', () => {
  const init: KeepalivedInit = { ...base, unicast, nopreempt: true };
  const copy = structuredClone(init);
  assert.equal(renderKeepalivedConf(init), renderKeepalivedConf(copy));
  assert.deepEqual(init, copy);
});

test('property: every generated valid option set validates and renders deterministically', () => {
  fc.assert(
    fc.property(validKeepalivedInit, (init) => {
      validateKeepalivedInit(init);
      const text = renderKeepalivedConf(init);
      assert.equal(text, renderKeepalivedConf(structuredClone(init)));
      assert.ok(!text.includes('vrrp_strict'));
      // Only the script line may carry quotes, exactly two.
      for (const line of text.split('\n')) {
        const quotes = line.split('"').length - 1;
        assert.ok(quotes === 0 || (quotes === 2 && /^ {4}(script|file) "/.test(line)), line);
      }
    }),
    { numRuns: 300 },
  );
});

test('keepalived.yaml embeds exactly the renderings of its documented node options', () => {
  const { configs } = readManifest();
  const nodes = manifestNodeOptions();
  assert.deepEqual([...configs.keys()], [...nodes.keys()]);
  for (const [file, init] of nodes) assert.equal(configs.get(file), renderKeepalivedConf(init), file);
});

/** `base` with some options replaced, typed loosely as input from a file would be. */
const w = (patch: Record<string, unknown>): Record<string, unknown> => ({ ...structuredClone(base), ...patch });
const without = (key: string): Record<string, unknown> => {
  const o: Record<string, unknown> = { ...structuredClone(base) };
  delete o[key];
  return o;
};
const script = (extra: Record<string, unknown>) =>
  w({ readiness: { kind: 'script', url: 'http://127.0.0.1:8080/readyz', ...extra } });
const uni = (srcIp: unknown, peers: unknown) => w({ unicast: { srcIp, peers } });
const file = (path: unknown) => w({ readiness: { kind: 'file', path } });

const invalid: { name: string; input: unknown; field: string }[] = [
  { name: 'null instead of an object', input: null, field: 'options' },
  { name: 'an array instead of an object', input: [base], field: 'options' },
  { name: 'unknown top-level option (typo)', input: w({ advertInt: 1 }), field: 'advertInt' },
  { name: 'missing routerId', input: without('routerId'), field: 'routerId' },
  { name: 'routerId with a space', input: w({ routerId: 'gm 1' }), field: 'routerId' },
  { name: 'routerId with a quote', input: w({ routerId: 'gm"1' }), field: 'routerId' },
  { name: 'routerId with a brace', input: w({ routerId: 'gm{' }), field: 'routerId' },
  { name: 'routerId of 64 characters', input: w({ routerId: 'a'.repeat(64) }), field: 'routerId' },
  { name: 'empty instanceName', input: w({ instanceName: '' }), field: 'instanceName' },
  { name: 'instanceName with $', input: w({ instanceName: 'VI_$X' }), field: 'instanceName' },
  { name: 'interface of 16 characters', input: w({ interface: 'a'.repeat(16) }), field: 'interface' },
  { name: 'interface with a space', input: w({ interface: 'eth 0' }), field: 'interface' },
  { name: 'interface with a brace', input: w({ interface: 'eth0}' }), field: 'interface' },
  { name: 'interface ..', input: w({ interface: '..' }), field: 'interface' },
  { name: 'empty interface', input: w({ interface: '' }), field: 'interface' },
  { name: 'virtualRouterId 0', input: w({ virtualRouterId: 0 }), field: 'virtualRouterId' },
  { name: 'virtualRouterId 256', input: w({ virtualRouterId: 256 }), field: 'virtualRouterId' },
  { name: 'virtualRouterId 1.5', input: w({ virtualRouterId: 1.5 }), field: 'virtualRouterId' },
  { name: 'virtualRouterId as a string', input: w({ virtualRouterId: '50' }), field: 'virtualRouterId' },
  { name: 'priority 0', input: w({ priority: 0 }), field: 'priority' },
  { name: 'priority 256', input: w({ priority: 256 }), field: 'priority' },
  { name: 'priority NaN', input: w({ priority: Number.NaN }), field: 'priority' },
  { name: 'vrrpVersion 1', input: w({ vrrpVersion: 1 }), field: 'vrrpVersion' },
  { name: 'advert 0.005 s with VRRPv3', input: w({ advertIntSeconds: 0.005 }), field: 'advertIntSeconds' },
  { name: 'advert 40.96 s with VRRPv3', input: w({ advertIntSeconds: 40.96 }), field: 'advertIntSeconds' },
  { name: 'advert 0.015 s (not 10 ms units)', input: w({ advertIntSeconds: 0.015 }), field: 'advertIntSeconds' },
  { name: 'advert Infinity', input: w({ advertIntSeconds: Number.POSITIVE_INFINITY }), field: 'advertIntSeconds' },
  { name: 'default 0.1 s advert with VRRPv2', input: w({ vrrpVersion: 2 }), field: 'advertIntSeconds' },
  { name: 'advert 1.5 s with VRRPv2', input: w({ vrrpVersion: 2, advertIntSeconds: 1.5 }), field: 'advertIntSeconds' },
  { name: 'advert 256 s with VRRPv2', input: w({ vrrpVersion: 2, advertIntSeconds: 256 }), field: 'advertIntSeconds' },
  { name: 'nopreempt as a string', input: w({ nopreempt: 'yes' }), field: 'nopreempt' },
  { name: 'nopreempt with priority 255', input: w({ nopreempt: true, priority: 255 }), field: 'nopreempt' },
  { name: 'unicast not an object', input: w({ unicast: ['198.18.0.12'] }), field: 'unicast' },
  { name: 'unknown unicast option', input: w({ unicast: { ...unicast, port: 112 } }), field: 'unicast.port' },
  { name: 'unicast srcIp with a prefix', input: uni('198.18.0.11/24', ['198.18.0.12']), field: 'unicast.srcIp' },
  { name: 'unicast srcIp octet 256', input: uni('198.18.0.256', ['198.18.0.12']), field: 'unicast.srcIp' },
  { name: 'unicast srcIp with leading zero', input: uni('198.18.0.011', ['198.18.0.12']), field: 'unicast.srcIp' },
  { name: 'unicast srcIp is IPv6', input: uni('2001:db8::1', ['198.18.0.12']), field: 'unicast.srcIp' },
  { name: 'unicast srcIp multicast', input: uni('224.0.0.18', ['198.18.0.12']), field: 'unicast.srcIp' },
  { name: 'unicast srcIp loopback', input: uni('127.0.0.1', ['198.18.0.12']), field: 'unicast.srcIp' },
  { name: 'no unicast peers', input: uni('198.18.0.11', []), field: 'unicast.peers' },
  { name: 'unicast peers not an array', input: uni('198.18.0.11', '198.18.0.12'), field: 'unicast.peers' },
  {
    name: 'unicast peer equals srcIp',
    input: uni('198.18.0.11', ['198.18.0.12', '198.18.0.11']),
    field: 'unicast.peers[1]',
  },
  {
    name: 'unicast peer listed twice',
    input: uni('198.18.0.11', ['198.18.0.12', '198.18.0.12']),
    field: 'unicast.peers[1]',
  },
  { name: 'unicast peer with trailing space', input: uni('198.18.0.11', ['198.18.0.12 ']), field: 'unicast.peers[0]' },
  { name: 'unicast peer is broadcast', input: uni('198.18.0.11', ['255.255.255.255']), field: 'unicast.peers[0]' },
  { name: 'no virtualIps', input: w({ virtualIps: [] }), field: 'virtualIps' },
  { name: 'virtualIps not an array', input: w({ virtualIps: '198.18.0.50/24' }), field: 'virtualIps' },
  { name: 'VIP prefix 33', input: w({ virtualIps: ['198.18.0.50/33'] }), field: 'virtualIps[0]' },
  { name: 'VIP prefix 0', input: w({ virtualIps: ['198.18.0.50/0'] }), field: 'virtualIps[0]' },
  { name: 'VIP octet 500', input: w({ virtualIps: ['198.18.0.500/24'] }), field: 'virtualIps[0]' },
  { name: 'VIP with three octets', input: w({ virtualIps: ['198.18.0/24'] }), field: 'virtualIps[0]' },
  { name: 'VIP with dev suffix', input: w({ virtualIps: ['198.18.0.50/24 dev eth1'] }), field: 'virtualIps[0]' },
  { name: 'VIP 0.0.0.0', input: w({ virtualIps: ['0.0.0.0/24'] }), field: 'virtualIps[0]' },
  {
    name: 'VIP listed twice with different prefixes',
    input: w({ virtualIps: ['198.18.0.50/24', '198.18.0.50/32'] }),
    field: 'virtualIps[1]',
  },
  {
    name: 'VIP equal to a unicast peer',
    input: w({ unicast, virtualIps: ['198.18.0.13/24'] }),
    field: 'virtualIps[0]',
  },
  { name: 'missing readiness', input: without('readiness'), field: 'readiness' },
  {
    name: 'unknown readiness kind',
    input: w({ readiness: { kind: 'http', url: 'http://x/' } }),
    field: 'readiness.kind',
  },
  { name: 'file option on a script check', input: script({ path: '/run/x' }), field: 'readiness.path' },
  { name: 'script check without url', input: w({ readiness: { kind: 'script' } }), field: 'readiness.url' },
  { name: 'relative url', input: script({ url: '/readyz' }), field: 'readiness.url' },
  { name: 'url with a double quote', input: script({ url: 'http://127.0.0.1:8080/ready"z' }), field: 'readiness.url' },
  { name: 'url with a single quote', input: script({ url: "http://127.0.0.1:8080/ready'z" }), field: 'readiness.url' },
  { name: 'url with a space', input: script({ url: 'http://127.0.0.1:8080/ready z' }), field: 'readiness.url' },
  { name: 'url with a fragment', input: script({ url: 'http://127.0.0.1:8080/readyz#x' }), field: 'readiness.url' },
  { name: 'url with $', input: script({ url: 'http://127.0.0.1:8080/$HOME' }), field: 'readiness.url' },
  {
    name: 'url with a newline',
    input: script({ url: 'http://127.0.0.1:8080/readyz\nvrrp_strict' }),
    field: 'readiness.url',
  },
  { name: 'ftp url', input: script({ url: 'ftp://127.0.0.1/readyz' }), field: 'readiness.url' },
  { name: 'url with credentials', input: script({ url: 'http://u:p@127.0.0.1:8080/readyz' }), field: 'readiness.url' },
  { name: 'intervalSeconds 0.5', input: script({ intervalSeconds: 0.5 }), field: 'readiness.intervalSeconds' },
  { name: 'intervalSeconds 0', input: script({ intervalSeconds: 0 }), field: 'readiness.intervalSeconds' },
  { name: 'intervalSeconds 4295', input: script({ intervalSeconds: 4295 }), field: 'readiness.intervalSeconds' },
  { name: 'timeoutSeconds 0', input: script({ timeoutSeconds: 0 }), field: 'readiness.timeoutSeconds' },
  { name: 'timeoutSeconds 1.5', input: script({ timeoutSeconds: 1.5 }), field: 'readiness.timeoutSeconds' },
  { name: 'fall 0', input: script({ fall: 0 }), field: 'readiness.fall' },
  { name: 'rise 2^31', input: script({ rise: 2 ** 31 }), field: 'readiness.rise' },
  { name: 'weight is not an option', input: script({ weight: -50 }), field: 'readiness.weight' },
  { name: 'relative track file path', input: file('run/ready'), field: 'readiness.path' },
  { name: 'track file path with a quote', input: file('/run/re"ady'), field: 'readiness.path' },
  { name: 'track file path with a space', input: file('/run/re ady'), field: 'readiness.path' },
  { name: 'track file path is a directory', input: file('/run/'), field: 'readiness.path' },
  { name: 'track file path with ..', input: file('/run/../etc/x'), field: 'readiness.path' },
  {
    name: 'track file with url',
    input: w({ readiness: { kind: 'file', path: '/run/x', url: 'http://x/' } }),
    field: 'readiness.url',
  },
];

for (const c of invalid) {
  test(`invalid: ${c.name}`, () => {
    const check = (err: unknown): boolean => {
      assert.ok(err instanceof ConfigError);
      assert.equal((err as ConfigError).name, 'KeepalivedOptionError');
      assert.equal((err as ConfigError).code, 'ERR_CONFIG');
      assert.equal((err as { field?: string }).field, c.field);
      return true;
    };
    assert.throws(() => validateKeepalivedInit(c.input), check);
    assert.throws(() => renderKeepalivedConf(c.input as KeepalivedInit), check);
  });
}
