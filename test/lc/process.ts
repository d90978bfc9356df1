/**
 * A real LC process for the test/lc integration tests: `fedmesh lc` for node `edge-1` (by default)
 * against GM ports, with a token file, a state dir and a worker API on a free loopback port; killed
 * when the test ends. `start()` may be called again to restart it on the same state.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from '../../common/net/ports.ts';
import { type ManagedProcess, spawnManaged } from '../../common/process/index.ts';
import { until } from '../hub/helpers.ts';

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'fedmesh.ts');

export interface LcProcessInit {
  /** Working directory of the test: token, state dir and log go here. */
  dir: string;
  /** The node's LC token (written to `<dir>/token`). */
  token: string;
  /** GM hub ports on 127.0.0.1, tried in turn. */
  gmPorts: number[];
  node?: string;
  /** `--backoff-max`. Default 500ms. */
  backoffMax?: string;
  /** More `fedmesh lc` flags (e.g. `--rootfs DIR`). */
  args?: string[];
}

export interface LcProcess {
  /** The worker API's base URL. */
  url: string;
  /** The state directory (`<dir>/state`). */
  stateDir: string;
  /** Starts the process (again); resolves once its worker API answers /readyz. */
  start(): Promise<ManagedProcess>;
  /** `Kind/name` of every object the LC holds, [] while it does not answer. */
  objects(): Promise<string[]>;
  /** Sum of a metric family's samples on the LC's /metrics. */
  metric(name: string): Promise<number>;
}

export async function lcProcess(t: TestContext, init: LcProcessInit): Promise<LcProcess> {
  const node = init.node ?? 'edge-1';
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const stateDir = join(init.dir, 'state');
  const tokenFile = join(init.dir, 'token');
  writeFileSync(tokenFile, init.token);
  const args = [CLI, 'lc', '--node', node, '--gm', init.gmPorts.map((p) => `127.0.0.1:${p}`).join(',')];
  args.push('--http-listen', `127.0.0.1:${port}`, '--state-dir', stateDir, '--token-file', tokenFile);
  args.push('--backoff-max', init.backoffMax ?? '500ms', ...(init.args ?? []));
  return {
    url,
    stateDir,
    async start() {
      const p = spawnManaged({ name: `lc ${node}`, cmd: process.execPath, args, logFile: join(init.dir, 'lc.log') });
      t.after(() => p.stop('SIGKILL'));
      await until(
        'the LC answers',
        20_000,
        async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok === true,
      );
      return p;
    },
    async objects() {
      try {
        const r = await fetch(`${url}/fedmesh/objects`);
        return ((await r.json()) as { items: Array<{ kind: string; name: string }> }).items.map(
          (o) => `${o.kind}/${o.name}`,
        );
      } catch {
        return [];
      }
    },
    async metric(name) {
      const text = await (await fetch(`${url}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    },
  };
}
