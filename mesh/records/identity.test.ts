import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { IDENTITY_FILE, loadOrCreateIdentity } from './identity.ts';

test('identity: generated once with mode 0600, then reloaded unchanged', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-id-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await loadOrCreateIdentity(join(dir, 'state'));
  assert.equal(first.created, true);
  assert.equal((await stat(first.path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
  const again = await loadOrCreateIdentity(join(dir, 'state'));
  assert.equal(again.created, false);
  assert.equal(peerIdFromPrivateKey(again.privateKey).toString(), peerIdFromPrivateKey(first.privateKey).toString());
});

test('identity: two nodes never share a key, whatever their names', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-id-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = await loadOrCreateIdentity(join(dir, 'a'));
  const b = await loadOrCreateIdentity(join(dir, 'b'));
  assert.notEqual(peerIdFromPrivateKey(a.privateKey).toString(), peerIdFromPrivateKey(b.privateKey).toString());
});

test('identity: an unreadable, corrupt or world-readable key file is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-id-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cases = [
    { name: 'corrupt', setup: (p: string) => writeFile(p, 'not a key', { mode: 0o600 }) },
    {
      name: 'group-readable',
      setup: async (p: string) => {
        await writeFile(p, await readFile(p).catch(() => 'x'), { mode: 0o640 });
        await chmod(p, 0o640);
      },
    },
  ];
  for (const c of cases) {
    const state = join(dir, c.name);
    await loadOrCreateIdentity(state);
    await c.setup(join(state, IDENTITY_FILE));
    await assert.rejects(loadOrCreateIdentity(state), { code: 'ERR_IDENTITY_FILE' }, c.name);
  }
});
