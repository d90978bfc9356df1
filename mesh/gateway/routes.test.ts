import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTable } from './routes.ts';
import { gateway, httpServer, input, service, to, virtualService } from './testing.ts';

const svcs = [service('shop', 'web'), service('shop', 'api', [8080, 9090])];

test('gateways: only those selecting our labels; HTTP served, other protocols and missing Secrets reported', () => {
  const t = buildTable(
    input(
      [
        gateway('gw', [
          httpServer(['*']),
          { port: { number: 443, protocol: 'HTTPS' }, hosts: ['*'], tls: { mode: 'SIMPLE', credentialName: 'nope' } },
          { port: { number: 80, protocol: 'TCP' }, hosts: ['*'] },
        ]),
        gateway('other', [httpServer(['*'], 81)], { istio: 'egress' }),
      ],
      [],
    ),
  );
  assert.deepEqual([...t.listeners.keys()], [80]);
  assert.equal(t.statuses.length, 1);
  const [s] = t.statuses;
  assert.equal(s?.accepted, true);
  assert.deepEqual(
    s?.issues.map((i) => [i.reason, i.path]),
    [
      ['MissingSecret', 'spec.servers[1].tls.credentialName'],
      ['UnsupportedProtocol', 'spec.servers[1].port.protocol'],
      ['PortConflict', 'spec.servers[2].port'],
    ],
  );
});

test('virtual services: bound by gateway name and host; several per gateway; merged per host oldest first', () => {
  const t = buildTable(
    input(
      [gateway('gw', [httpServer(['*.example.com', 'prod/api.other.org'])])],
      [
        virtualService('a', ['shop.example.com'], [{ name: 'one', route: [to('web')] }]),
        virtualService(
          'b',
          ['shop.example.com', 'api.other.org'],
          [{ name: 'two', route: [to('api', undefined, 8080)] }],
        ),
        virtualService('mesh-only', ['shop.example.com'], [{ route: [to('web')] }], ['mesh']),
        virtualService('elsewhere', ['shop.example.com'], [{ route: [to('web')] }], ['other/gw']),
      ],
      svcs,
    ),
  );
  const l = t.listeners.get(80);
  assert.deepEqual([...(l?.hosts.keys() ?? [])], ['shop.example.com']);
  assert.deepEqual(
    l?.hosts.get('shop.example.com')?.routes.map((r) => r.id),
    ['shop/a/one', 'shop/b/two'],
  );
  const b = t.statuses.find((s) => s.name === 'b');
  assert.equal(b?.accepted, true);
  // api.other.org is admitted only from namespace prod.
  assert.deepEqual(
    b?.issues.map((i) => [i.reason, i.path]),
    [['HostNotOnGateway', 'spec.hosts[1]']],
  );
  assert.equal(
    t.statuses.some((s) => s.name === 'mesh-only' || s.name === 'elsewhere'),
    false,
  );
});

test('refused whole: bad regex, bad route shape, bad duration, unknown retryOn — the others keep serving', () => {
  const bad = [
    { name: 'regex', http: [{ match: [{ uri: { regex: '(unclosed' } }], route: [to('web')] }], reason: 'InvalidRegex' },
    {
      name: 'header-regex',
      http: [{ match: [{ headers: { 'x-a': { regex: '(?<=a)b' } } }], route: [to('web')] }],
      reason: 'InvalidRegex',
    },
    { name: 'no-action', http: [{ match: [{ uri: { prefix: '/' } }] }], reason: 'InvalidRoute' },
    { name: 'two-actions', http: [{ route: [to('web')], redirect: { uri: '/x' } }], reason: 'InvalidRoute' },
    {
      name: 'two-kinds',
      http: [{ match: [{ uri: { exact: '/', prefix: '/' } }], route: [to('web')] }],
      reason: 'InvalidRoute',
    },
    { name: 'timeout', http: [{ route: [to('web')], timeout: 'soon' }], reason: 'InvalidRoute' },
    {
      name: 'retry-on',
      http: [{ route: [to('web')], retries: { attempts: 1, retryOn: 'whenever' } }],
      reason: 'InvalidRoute',
    },
    { name: 'zero-weights', http: [{ route: [to('web', 0), to('web', 0)] }], reason: 'InvalidRoute' },
    {
      name: 'query-prefix',
      http: [{ match: [{ queryParams: { a: { prefix: 'x' } } }], route: [to('web')] }],
      reason: 'InvalidRoute',
    },
    { name: 'redirect-code', http: [{ redirect: { uri: '/', redirectCode: 200 } }], reason: 'InvalidRoute' },
  ];
  const t = buildTable(
    input(
      [gateway('gw', [httpServer(['*'])])],
      [
        ...bad.map((b) => virtualService(b.name, [`${b.name}.example.com`], b.http)),
        virtualService('good', ['good.example.com'], [{ route: [to('web')] }]),
      ],
      svcs,
    ),
  );
  for (const b of bad) {
    const s = t.statuses.find((x) => x.name === b.name);
    assert.equal(s?.accepted, false, b.name);
    assert.equal(s?.issues[0]?.reason, b.reason, b.name);
    assert.match(s?.issues[0]?.path ?? '', /^spec\.http\[0\]/, b.name);
  }
  assert.deepEqual([...(t.listeners.get(80)?.hosts.keys() ?? [])], ['good.example.com']);
});

test('destinations: unknown host, missing port choice, subset → accepted, route answers 503', () => {
  const t = buildTable(
    input(
      [gateway('gw', [httpServer(['*'])])],
      [
        virtualService(
          'vs',
          ['x.example.com'],
          [
            { route: [to('ghost')] },
            { route: [to('api')] },
            { route: [to('api', undefined, 7)] },
            { route: [{ destination: { host: 'web', subset: 'v1' } }] },
            { route: [to('web.shop.svc.cluster.local')] },
          ],
        ),
      ],
      svcs,
    ),
  );
  const s = t.statuses[1];
  assert.equal(s?.accepted, true);
  assert.deepEqual(
    s?.issues.map((i) => [i.reason, i.path]),
    [
      ['UnknownHost', 'spec.http[0].route[0].destination.host'],
      ['UnknownPort', 'spec.http[1].route[0].destination.port'],
      ['UnknownPort', 'spec.http[2].route[0].destination.port'],
      ['UnsupportedField', 'spec.http[3].route[0].destination.subset'],
    ],
  );
  const routes = t.listeners.get(80)?.hosts.get('x.example.com')?.routes ?? [];
  const served = routes.map((r) => r.action.kind === 'forward' && r.action.destinations[0]?.service !== undefined);
  assert.deepEqual(served, [false, false, false, false, true]);
});

test('match gateways and port narrow a route to some gateways; unsupported fields are reported, not fatal', () => {
  const t = buildTable(
    input(
      [gateway('gw', [httpServer(['*']), httpServer(['*'], 8080)]), gateway('gw2', [httpServer(['*'], 9000)])],
      [
        virtualService(
          'vs',
          ['x.example.com'],
          [
            { name: 'only-8080', match: [{ port: 8080 }], route: [to('web')] },
            { name: 'only-gw2', match: [{ gateways: ['edge/gw2'] }], route: [to('web')] },
            { name: 'faulty', fault: { abort: { httpStatus: 500 } }, route: [to('web')] } as never,
          ],
          ['edge/gw', 'edge/gw2'],
        ),
      ],
      svcs,
    ),
  );
  const ids = (port: number) =>
    t.listeners
      .get(port)
      ?.hosts.get('x.example.com')
      ?.routes.map((r) => r.id);
  assert.deepEqual(ids(80), ['shop/vs/faulty']);
  assert.deepEqual(ids(8080), ['shop/vs/only-8080', 'shop/vs/faulty']);
  assert.deepEqual(ids(9000), ['shop/vs/only-gw2', 'shop/vs/faulty']);
  const s = t.statuses.find((x) => x.kind === 'VirtualService');
  assert.deepEqual(
    s?.issues.map((i) => [i.reason, i.path]),
    [['UnsupportedField', 'spec.http[2].fault']],
  );
});
