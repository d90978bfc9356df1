import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestView } from './matchers.ts';
import type { HttpRoute } from './model.ts';
import { type Decision, decide } from './router.ts';
import { buildTable, type RoutingTable } from './routes.ts';
import { gateway, httpServer, input, service, to, virtualService } from './testing.ts';

const svcs = ['web', 'v1', 'v2', 'api', 'admin'].map((n) => service('shop', n));

function table(http: HttpRoute[], hosts = ['shop.example.com']): RoutingTable {
  return buildTable(input([gateway('gw', [httpServer(['*'])])], [virtualService('vs', hosts, http)], svcs));
}

function req(path: string, more: Partial<RequestView> & { h?: Record<string, string> } = {}): RequestView {
  return {
    method: more.method ?? 'GET',
    path,
    scheme: more.scheme ?? 'http',
    authority: more.authority ?? 'shop.example.com',
    headers: new Map(Object.entries(more.h ?? {})),
  };
}

const target = (d: Decision) => (d.kind === 'forward' ? `${d.destination.service?.name ?? '∅'} ${d.path}` : d.kind);

test('URI matches: exact, prefix, regex (whole path, query ignored), ignoreUriCase; first route wins', () => {
  const t = table([
    { match: [{ uri: { exact: '/login' } }], route: [to('admin')] },
    { match: [{ uri: { regex: '/item/[0-9]+' } }], route: [to('api')] },
    { match: [{ uri: { prefix: '/API', ignoreUriCase: true } as never, ignoreUriCase: true }], route: [to('v1')] },
    { match: [{ uri: { prefix: '/' } }], route: [to('web')] },
  ]);
  for (const [path, want] of [
    ['/login', 'admin /login'],
    ['/login?next=/', 'admin /login?next=/'],
    ['/login/', 'web /login/'],
    ['/item/42', 'api /item/42'],
    ['/item/42?x=1', 'api /item/42?x=1'],
    ['/item/4a', 'web /item/4a'],
    ['/api/x', 'v1 /api/x'],
    ['/Api', 'v1 /Api'],
    ['/other', 'web /other'],
  ] as const) {
    assert.equal(target(decide(t, 80, req(path))), want, path);
  }
});

test('headers, withoutHeaders, method, query params; blocks are ORed, conditions ANDed', () => {
  const t = table([
    {
      match: [
        { headers: { 'X-Canary': { exact: 'yes' } }, method: { exact: 'GET' } },
        { queryParams: { canary: { regex: 'y.*' } } },
      ],
      route: [to('v2')],
    },
    { match: [{ headers: { 'x-user': {} }, withoutHeaders: { 'x-debug': {} } }], route: [to('v1')] },
    { match: [{ headers: { authorization: { prefix: 'Bearer ' } } }], route: [to('api')] },
    { route: [to('web')] },
  ]);
  for (const { name, r, want } of [
    { name: 'header and method', r: req('/', { h: { 'x-canary': 'yes' } }), want: 'v2 /' },
    { name: 'header, wrong method', r: req('/', { method: 'POST', h: { 'x-canary': 'yes' } }), want: 'web /' },
    { name: 'query param block', r: req('/?canary=yes'), want: 'v2 /?canary=yes' },
    { name: 'query param regex is whole', r: req('/?canary=no'), want: 'web /?canary=no' },
    { name: 'presence', r: req('/', { h: { 'x-user': '' } }), want: 'v1 /' },
    { name: 'presence but excluded', r: req('/', { h: { 'x-user': 'a', 'x-debug': '1' } }), want: 'web /' },
    { name: 'prefix', r: req('/', { h: { authorization: 'Bearer t' } }), want: 'api /' },
    { name: 'nothing', r: req('/'), want: 'web /' },
  ]) {
    assert.equal(target(decide(t, 80, r)), want, name);
  }
});

test('hosts: exact before wildcard before *; an unknown host or port is 404', () => {
  const t = buildTable(
    input(
      [gateway('gw', [httpServer(['*'])])],
      [
        virtualService('star', ['*'], [{ route: [to('web')] }]),
        virtualService('wild', ['*.example.com'], [{ route: [to('v1')] }]),
        virtualService('exact', ['api.example.com'], [{ route: [to('api')] }]),
      ],
      svcs,
    ),
  );
  assert.equal(target(decide(t, 80, req('/', { authority: 'API.example.com:80' }))), 'api /');
  assert.equal(target(decide(t, 80, req('/', { authority: 'x.example.com' }))), 'v1 /');
  assert.equal(target(decide(t, 80, req('/', { authority: 'example.org' }))), 'web /');
  assert.equal(decide(t, 81, req('/')).kind, 'not-found');
  const narrow = table([{ match: [{ uri: { prefix: '/a' } }], route: [to('web')] }]);
  assert.equal(decide(narrow, 80, req('/b')).kind, 'not-found');
  assert.equal(decide(narrow, 80, req('/a', { authority: 'other.example.com' })).kind, 'not-found');
});

test('weights: 80/20 within a chi-square bound; weight 0 gets nothing; equal shares without weights', () => {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const count = (http: HttpRoute[], n: number) => {
    const t = table(http);
    const c = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const d = decide(t, 80, req('/'), random);
      const k = d.kind === 'forward' ? (d.destination.service?.name ?? '') : '';
      c.set(k, (c.get(k) ?? 0) + 1);
    }
    return c;
  };
  const n = 10_000;
  const c = count([{ route: [to('v1', 80), to('v2', 20), to('web', 0)] }], n);
  const chi = ((c.get('v1') ?? 0) - 0.8 * n) ** 2 / (0.8 * n) + ((c.get('v2') ?? 0) - 0.2 * n) ** 2 / (0.2 * n);
  assert.ok(chi < 10.83, `chi-square ${chi} (1 degree of freedom, p = 0.001)`);
  assert.equal(c.get('web'), undefined);
  const e = count([{ route: [to('v1'), to('v2')] }], 2000);
  assert.ok(Math.abs((e.get('v1') ?? 0) - 1000) < 150);
});

test('rewrite: prefix replaced for a prefix match, whole path otherwise, query kept; regex rewrite; authority', () => {
  const t = table([
    { match: [{ uri: { prefix: '/old/' } }], rewrite: { uri: '/new/' }, route: [to('v1')] },
    { match: [{ uri: { exact: '/e' } }], rewrite: { uri: '/exact' }, route: [to('v2')] },
    {
      match: [{ uri: { prefix: '/svc/' } }],
      rewrite: { uriRegexRewrite: { match: '^/svc/([^/]+)(/.*)?$', rewrite: '/\\1\\2' }, authority: 'internal' },
      route: [to('api')],
    },
    { rewrite: { uri: '/v2' }, route: [to('web')] },
  ]);
  assert.equal(target(decide(t, 80, req('/old/a/b?q=1'))), 'v1 /new/a/b?q=1');
  assert.equal(target(decide(t, 80, req('/e?z'))), 'v2 /exact?z');
  const d = decide(t, 80, req('/svc/foo/bar'));
  assert.equal(target(d), 'api /foo/bar');
  assert.equal(d.kind === 'forward' && d.authority, 'internal');
  // No URI match is Envoy's prefix "/": the leading slash is what gets replaced.
  assert.equal(target(decide(t, 80, req('/x'))), 'web /v2x');
});

test('redirect and direct response', () => {
  const t = table([
    { match: [{ uri: { exact: '/a' } }], redirect: { uri: '/b' } },
    { match: [{ uri: { exact: '/s' } }], redirect: { scheme: 'https', redirectCode: 308 } },
    { match: [{ uri: { exact: '/h' } }], redirect: { authority: 'other.example.com', port: 8443 } },
    { match: [{ uri: { exact: '/p' } }], redirect: { derivePort: 'FROM_REQUEST_PORT', uri: '/q?x=1' } },
    { match: [{ uri: { exact: '/d' } }], directResponse: { status: 418, body: { string: 'teapot' } } },
  ]);
  const r = (path: string, authority = 'shop.example.com') => decide(t, 80, req(path, { authority }));
  assert.deepEqual(r('/a?k=v'), {
    ...r('/a?k=v'),
    kind: 'redirect',
    status: 301,
    location: 'http://shop.example.com/b?k=v',
  });
  const s = r('/s', 'shop.example.com:80');
  assert.equal(s.kind === 'redirect' && `${s.status} ${s.location}`, '308 https://shop.example.com/s');
  const h = r('/h');
  assert.equal(h.kind === 'redirect' && h.location, 'http://other.example.com:8443/h');
  const p = r('/p?y=2');
  assert.equal(p.kind === 'redirect' && p.location, 'http://shop.example.com/q?x=1');
  const d = r('/d');
  assert.equal(d.kind === 'direct' && `${d.status} ${d.body}`, '418 teapot');
});

test('timeout and retries carried to the route', () => {
  const t = table([
    { route: [to('web')], timeout: '1.5s', retries: { attempts: 3, perTryTimeout: '200ms', retryOn: '5xx' } },
  ]);
  const d = decide(t, 80, req('/'));
  assert.equal(d.kind, 'forward');
  if (d.kind !== 'forward') return;
  assert.equal(d.route.timeoutMs, 1500);
  assert.equal(d.route.retry.attempts, 3);
  assert.equal(d.route.retry.perTryTimeoutMs, 200);
  const none = decide(table([{ route: [to('web')], timeout: '0s' }]), 80, req('/'));
  assert.equal(none.kind === 'forward' && none.route.timeoutMs, undefined);
});
