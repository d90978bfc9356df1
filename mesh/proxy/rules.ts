/**
 * Steering: kernel rules that send ClusterIP:port traffic originating on this node to the proxy's
 * listener for that Service port. Each ClusterIP:port/protocol has its own loopback listener, so
 * the listener's port says which Service port a connection was for (Node cannot read
 * SO_ORIGINAL_DST); the rule is a REDIRECT (DNAT to loopback) in the nat OUTPUT hook, and
 * conntrack rewrites replies back to the ClusterIP, so clients see the address they dialled.
 *
 * nftables: one table `inet fedmesh` the agent owns, replaced atomically in one `nft -f` run on
 * every change (add-delete-add: no moment without rules, no error when it is absent), deleted on
 * stop and at start (a crash leaves a stale table; the first apply replaces it anyway).
 * Fallback where `nft` is missing: iptables-restore into one nat chain jumped to from OUTPUT
 * (ip6tables for IPv6). With neither, start fails with ERR_NO_STEERING.
 */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { FedmeshError } from '../../common/errors.ts';
import { IPT_CHAIN, NAT_PRIORITY, NFT_TABLE } from './constants.ts';

export interface SteerRule {
  clusterIP: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  /** Loopback port of the listener for this ClusterIP:port (127.0.0.1 or ::1, the ClusterIP's family). */
  localPort: number;
}

export type SteeringBackend = 'nft' | 'iptables';

export class SteeringError extends FedmeshError {
  constructor(message: string, code: 'ERR_NO_STEERING' | 'ERR_STEERING_FAILED', options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'SteeringError';
  }
}

/** Runs a program with `input` on stdin; rejects with its stderr on a non-zero exit. */
export type Runner = (cmd: string, args: string[], input?: string) => Promise<void>;

export const execRunner: Runner = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 10_000 }, (err, _out, stderr) =>
      err ? reject(Object.assign(err, { stderr: String(stderr).trim() })) : resolve(),
    );
    // The program may exit without reading stdin (`--version`): a broken pipe is not our error.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });

const sorted = (rules: readonly SteerRule[]) =>
  [...rules].sort((a, b) =>
    a.clusterIP !== b.clusterIP
      ? a.clusterIP < b.clusterIP
        ? -1
        : 1
      : a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0),
  );

function check(r: SteerRule): void {
  const ok =
    isIP(r.clusterIP) !== 0 &&
    [r.port, r.localPort].every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) &&
    (r.protocol === 'TCP' || r.protocol === 'UDP');
  // The catalog validated these; a bad one here would be injected into a root-run script.
  if (!ok) throw new SteeringError(`invalid steering rule ${JSON.stringify(r)}`, 'ERR_STEERING_FAILED');
}

/** The nft script that replaces the table with these rules (deterministic: sorted). */
export function renderNft(rules: readonly SteerRule[]): string {
  const lines = [`table inet ${NFT_TABLE}`, `delete table inet ${NFT_TABLE}`, `table inet ${NFT_TABLE} {`];
  lines.push('  chain output {', `    type nat hook output priority ${NAT_PRIORITY}; policy accept;`);
  for (const r of sorted(rules)) {
    check(r);
    const fam = isIP(r.clusterIP) === 4 ? 'ip' : 'ip6';
    const l4 = r.protocol.toLowerCase();
    lines.push(`    ${fam} daddr ${r.clusterIP} ${l4} dport ${r.port} redirect to :${r.localPort}`);
  }
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

/** The nft script that removes the table (no error when it does not exist). */
export const NFT_CLEAR = `table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`;

/** iptables-restore input (--noflush) for one family: the chain, flushed and filled. */
export function renderIptables(rules: readonly SteerRule[], family: 4 | 6): string {
  const lines = ['*nat', `:${IPT_CHAIN} - [0:0]`, `-F ${IPT_CHAIN}`];
  for (const r of sorted(rules)) {
    check(r);
    if (isIP(r.clusterIP) !== family) continue;
    const bits = family === 4 ? 32 : 128;
    const l4 = r.protocol.toLowerCase();
    lines.push(
      `-A ${IPT_CHAIN} -d ${r.clusterIP}/${bits} -p ${l4} -m ${l4} --dport ${r.port} -j REDIRECT --to-ports ${r.localPort}`,
    );
  }
  lines.push('COMMIT');
  return `${lines.join('\n')}\n`;
}

export interface Steering {
  readonly backend: SteeringBackend;
  /** Makes the kernel rules exactly `rules`. */
  apply(rules: readonly SteerRule[]): Promise<void>;
  /** Removes every rule of ours (idempotent). */
  clear(): Promise<void>;
}

async function available(run: Runner, cmd: string, args: string[]): Promise<boolean> {
  try {
    await run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/**
 * The steering for `backend` ('auto': nft when `nft --version` runs, else iptables when
 * `iptables-restore --version` runs, else ERR_NO_STEERING).
 */
export async function createSteering(backend: 'auto' | SteeringBackend, run: Runner = execRunner): Promise<Steering> {
  let chosen: SteeringBackend | undefined;
  if (backend !== 'iptables' && (await available(run, 'nft', ['--version']))) chosen = 'nft';
  else if (backend !== 'nft' && (await available(run, 'iptables-restore', ['--version']))) chosen = 'iptables';
  if (!chosen) {
    throw new SteeringError(
      backend === 'auto'
        ? 'neither nft nor iptables-restore can be run: install nftables (or iptables) to steer ClusterIP traffic'
        : `${backend === 'nft' ? 'nft' : 'iptables-restore'} cannot be run (proxy.steering: ${backend})`,
      'ERR_NO_STEERING',
    );
  }
  const failed = (err: unknown): never => {
    const e = err as Error & { stderr?: string };
    throw new SteeringError(`${chosen} failed: ${e.stderr || e.message}`, 'ERR_STEERING_FAILED', { cause: err });
  };
  if (chosen === 'nft') {
    return {
      backend: chosen,
      apply: (rules) => run('nft', ['-f', '-'], renderNft(rules)).catch(failed),
      clear: () => run('nft', ['-f', '-'], NFT_CLEAR).catch(failed),
    };
  }
  const has6 = await available(run, 'ip6tables-restore', ['--version']);
  const families: Array<{ family: 4 | 6; restore: string; tables: string }> = [
    { family: 4, restore: 'iptables-restore', tables: 'iptables' },
    ...(has6 ? [{ family: 6 as const, restore: 'ip6tables-restore', tables: 'ip6tables' }] : []),
  ];
  return {
    backend: chosen,
    async apply(rules) {
      try {
        for (const f of families) {
          await run(f.restore, ['--noflush'], renderIptables(rules, f.family));
          if (!(await available(run, f.tables, ['-t', 'nat', '-C', 'OUTPUT', '-j', IPT_CHAIN]))) {
            await run(f.tables, ['-t', 'nat', '-I', 'OUTPUT', '-j', IPT_CHAIN]);
          }
        }
      } catch (err) {
        failed(err);
      }
    },
    async clear() {
      for (const f of families) {
        // Every jump (a crash between insert and check could have left two), then the chain.
        while (await available(run, f.tables, ['-t', 'nat', '-D', 'OUTPUT', '-j', IPT_CHAIN]));
        await available(run, f.tables, ['-t', 'nat', '-F', IPT_CHAIN]);
        await available(run, f.tables, ['-t', 'nat', '-X', IPT_CHAIN]);
      }
    },
  };
}
