/**
 * Throwaway network namespaces for the keepalived tests (test-only; not exported by index.ts).
 * Each namespace is deleted after its test (via defer) and, if the run is interrupted, by an exit hook.
 */
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { PrerequisiteError } from '../../../common/errors.ts';
import { onExit } from '../../../common/process/index.ts';
import { defer } from './defer.ts';

/** One veth end inside the namespace (its peer stays in the namespace too, up, unconnected). */
export interface LinkInit {
  /** Interface name as the config under test uses it; ≤ 15 characters. */
  name: string;
  /** CIDR address; must lie in 198.18.0.0/15 (benchmarking range, never routed). */
  address: string;
}

const IFNAMSIZ_MAX = 15;
let counter = 0;

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Fails the calling test with a clear message unless we are root with iproute2. */
export function requireNetnsPrivileges(): void {
  if (process.getuid?.() !== 0) throw new PrerequisiteError('network namespace tests must run as root');
  try {
    ip(['-V']);
  } catch (err) {
    throw new PrerequisiteError('iproute2 (`ip`) is required: apt-get install -y iproute2', { cause: err });
  }
}

/** True while `ip netns list` shows `name`. */
export function netnsExists(name: string): boolean {
  return ip(['netns', 'list'])
    .split('\n')
    .some((line) => line.split(' ')[0] === name);
}

function deleteNetns(name: string): void {
  if (netnsExists(name)) ip(['netns', 'del', name]);
}

function inBenchmarkRange(cidr: string): boolean {
  const [a, b] = cidr.split('.').map(Number);
  return a === 198 && (b === 18 || b === 19);
}

/**
 * Creates `fmka<pid><n>` with `lo` up and one veth pair per link, and deletes it after `t`
 * (also on failure). Returns the namespace name.
 */
export function createNetns(t: TestContext, links: LinkInit[]): string {
  requireNetnsPrivileges();
  const name = `fmka${process.pid}${(counter++).toString(36)}`;
  if (name.length > IFNAMSIZ_MAX) throw new Error(`namespace name ${name} is longer than ${IFNAMSIZ_MAX}`);
  for (const l of links) {
    if (!inBenchmarkRange(l.address)) throw new Error(`test address ${l.address} is outside 198.18.0.0/15`);
  }
  ip(['netns', 'add', name]);
  // Registered before anything else can fail, so a half-built namespace is still removed.
  const unregister = onExit(() => deleteNetns(name));
  defer(t, () => {
    unregister();
    deleteNetns(name);
    if (netnsExists(name)) throw new Error(`network namespace ${name} survived deletion`);
  });
  ip(['-n', name, 'link', 'set', 'lo', 'up']);
  links.forEach((l, i) => {
    // The dummy driver is not always available (containers); a veth pair always is.
    const peer = `fmkpeer${i}`;
    ip(['-n', name, 'link', 'add', l.name, 'type', 'veth', 'peer', 'name', peer]);
    ip(['-n', name, 'addr', 'add', l.address, 'dev', l.name]);
    ip(['-n', name, 'link', 'set', l.name, 'up']);
    ip(['-n', name, 'link', 'set', peer, 'up']);
  });
  return name;
}
