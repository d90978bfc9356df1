import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { test } from 'node:test';
import { createTokenVerifier } from './jwt.ts';

const ISS = 'https://api.example:6443';
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function jwt(claims: Record<string, unknown>, opts: { alg?: 'ES256' | 'RS256'; kid?: string; key?: KeyObject } = {}) {
  const alg = opts.alg ?? 'ES256';
  const h = Buffer.from(JSON.stringify({ alg, kid: opts.kid ?? (alg === 'ES256' ? 'ec1' : 'rsa1') })).toString(
    'base64url',
  );
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const key = opts.key ?? (alg === 'ES256' ? ec.privateKey : rsa.privateKey);
  const sig = sign('sha256', Buffer.from(`${h}.${p}`), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${h}.${p}.${sig.toString('base64url')}`;
}

const NOW = 1_800_000_000;
const base = {
  iss: ISS,
  aud: ['fedmesh'],
  exp: NOW + 600,
  nbf: NOW - 10,
  sub: 'system:serviceaccount:sedna:lc',
  'kubernetes.io': { namespace: 'sedna', pod: { name: 'lc-x', uid: 'u' }, node: { name: 'edge-1', uid: 'n' } },
};

async function verifier() {
  const v = createTokenVerifier({
    audience: 'fedmesh',
    fetchJson: async (path) =>
      path === '/.well-known/openid-configuration'
        ? { issuer: ISS }
        : {
            keys: [
              { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec1', alg: 'ES256' },
              { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa1', alg: 'RS256' },
            ],
          },
  });
  assert.equal(await v.refresh(AbortSignal.timeout(1000)), true);
  return v;
}

test('jwt: a pod-bound token signed with a published key gives its ServiceAccount and node', async () => {
  const v = await verifier();
  assert.deepEqual(await v.verify(jwt(base), NOW), { username: 'system:serviceaccount:sedna:lc', node: 'edge-1' });
  assert.deepEqual(await v.verify(jwt({ ...base, 'kubernetes.io': { namespace: 'sedna' } }, { alg: 'RS256' }), NOW), {
    username: 'system:serviceaccount:sedna:lc',
    node: undefined,
  });
});

const bad: Array<{ name: string; token: () => string }> = [
  { name: 'another audience', token: () => jwt({ ...base, aud: ['https://kubernetes.default.svc'] }) },
  { name: 'another issuer', token: () => jwt({ ...base, iss: 'https://elsewhere' }) },
  { name: 'expired', token: () => jwt({ ...base, exp: NOW - 1 }) },
  { name: 'not valid yet', token: () => jwt({ ...base, nbf: NOW + 120 }) },
  { name: 'not a ServiceAccount', token: () => jwt({ ...base, sub: 'alice' }) },
  { name: 'signed by an unknown key', token: () => jwt(base, { key: other.privateKey }) },
  { name: 'an unknown key id', token: () => jwt(base, { kid: 'nope' }) },
  { name: 'alg differing from the key', token: () => jwt(base, { alg: 'RS256', kid: 'ec1' }) },
  {
    name: 'a tampered payload',
    token: () => {
      const [h, , s] = jwt(base).split('.');
      return `${h}.${Buffer.from(JSON.stringify({ ...base, sub: 'system:serviceaccount:sedna:lc-edge-9' })).toString('base64url')}.${s}`;
    },
  },
  { name: 'garbage', token: () => 'not.a.jwt' },
  { name: 'two parts', token: () => 'a.b' },
];
for (const c of bad) {
  test(`jwt: refused: ${c.name}`, async () => {
    const v = await verifier();
    assert.equal(await v.verify(c.token(), NOW), undefined);
  });
}

test('jwt: without keys nothing verifies locally', async () => {
  const v = createTokenVerifier({
    audience: 'fedmesh',
    fetchJson: async () => {
      throw new Error('403');
    },
  });
  assert.equal(await v.refresh(AbortSignal.timeout(1000)), false);
  assert.equal(await v.verify(jwt(base), NOW), undefined);
});
