import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { endorse, generateServiceKey, isEndorsed, loadServiceKey, parsePublicKey, publicKeyText } from './endorse.ts';

test('endorsements: valid only for their service, their peer and a trusted key', () => {
  const k = generateKeyPairSync('ed25519').privateKey;
  const other = generateKeyPairSync('ed25519').privateKey;
  const trusted = [parsePublicKey(publicKeyText(k))];
  const sig = endorse('fedmesh-gm', 'peer-a', k);
  const cases = [
    { name: 'valid', service: 'fedmesh-gm', peer: 'peer-a', sig, ok: true },
    { name: 'another service', service: 'other', peer: 'peer-a', sig, ok: false },
    { name: 'copied to another peer', service: 'fedmesh-gm', peer: 'peer-b', sig, ok: false },
    {
      name: 'signed by an untrusted key',
      service: 'fedmesh-gm',
      peer: 'peer-a',
      sig: endorse('fedmesh-gm', 'peer-a', other),
      ok: false,
    },
    { name: 'absent', service: 'fedmesh-gm', peer: 'peer-a', sig: undefined, ok: false },
    { name: 'garbage', service: 'fedmesh-gm', peer: 'peer-a', sig: '!!not base64!!', ok: false },
    { name: 'oversized', service: 'fedmesh-gm', peer: 'peer-a', sig: 'A'.repeat(200), ok: false },
  ];
  for (const c of cases) assert.equal(isEndorsed(c.service, c.peer, c.sig, trusted), c.ok, c.name);
  assert.equal(isEndorsed('fedmesh-gm', 'peer-a', sig, []), false, 'no trusted key: nothing endorsed');
});

test('service keys: generated 0600 and loaded; bad files and public keys are ConfigErrors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-skey-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'key');
  const pub = await generateServiceKey(path);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal(publicKeyText(await loadServiceKey(path)), pub);
  await assert.rejects(generateServiceKey(path), { code: 'EEXIST' });
  await writeFile(
    join(dir, 'rsa'),
    generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }),
  );
  await writeFile(join(dir, 'junk'), 'not a key');
  for (const bad of ['rsa', 'junk', 'missing'])
    await assert.rejects(loadServiceKey(join(dir, bad)), { code: 'ERR_CONFIG' }, bad);
  for (const bad of ['', 'ed25519:', 'rsa:abc', `ed25519:${'A'.repeat(44)}`, (await readFile(path, 'utf8')).trim()]) {
    assert.throws(() => parsePublicKey(bad), { code: 'ERR_CONFIG' }, bad);
  }
});
