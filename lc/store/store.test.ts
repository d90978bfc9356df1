import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { storeContract } from './contract.ts';
import { versionContract } from './contract-versions.ts';
import { createMemoryStore } from './memory.ts';
import { openSqliteStore } from './sqlite.ts';

storeContract('memory', { open: (opts) => createMemoryStore(opts) });
versionContract('memory', { open: (opts) => createMemoryStore(opts) });

const dir = mkdtempSync(join(tmpdir(), 'fedmesh-lc-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
let last = '';
storeContract('sqlite', {
  open: (opts) => {
    last = join(dir, `s${++n}`, 'lc.db');
    return openSqliteStore({ path: last, ...opts });
  },
  reopen: () => openSqliteStore({ path: last }),
});
versionContract('sqlite', { open: (opts) => openSqliteStore({ path: join(dir, `v${++n}`, 'lc.db'), ...opts }) });
